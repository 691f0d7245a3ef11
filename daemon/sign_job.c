#include "sign_job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "spool_access.h"
#include "../signers/common/fileio.h"

/* Names the daemon writes itself; a signed output may not take them. */
static int reserved_name(const char *name)
{
	return strcmp(name, "STATUS") == 0 || strcmp(name, "request.json") == 0 ||
	       strcmp(name, "ERROR") == 0 || strcmp(name, "chain.pem") == 0;
}

static void on_read(void *ctx, uint64_t done)
{
	csod_sign_job *job = ctx;
	csod_progress_set(&job->progress, job->signed_bytes + (int64_t)done);
}

static int sign_one(csod_sign_job *job, csod_file *f, char *tmp_out, size_t tmp_len)
{
	char in_path[PATH_MAX];
	if (csod_path(in_path, sizeof in_path, "%s/%s", job->store_dir, f->name) < 0)
		return csod_fail(&job->err, "%s: path too long", f->name);
	int in = open(in_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return csod_fail_errno(&job->err, "%s: cannot open the stored copy", f->name);
	int rc = -1, out = -1;
	const csod_signer *s = csod_signer_for(job->service, f->name, in, &job->err);
	if (!s)
		goto done;
	snprintf(f->engine, sizeof f->engine, "%s", s->name);
	if (csod_output_name(s, f->name, f->output, sizeof f->output, &job->err) < 0)
		goto done;
	if (reserved_name(f->output)) {
		csod_fail(&job->err, "%s: the name is reserved in the outbox", f->output);
		goto done;
	}
	out = csod_tmpfile(job->tmp_dir, "sign", tmp_out, tmp_len, &job->err);
	if (out < 0)
		goto done;
	csod_error why;
	job->options.input_name = f->name;
	job->options.progress = on_read;
	job->options.progress_ctx = job;
	csod_progress_set(&job->progress, job->signed_bytes);
	if (s->sign(in, out, &job->identity, &job->options, &why) < 0) {
		csod_fail(&job->err, "%s: %s", f->name, why.msg);
		job->err.sys_errno = why.sys_errno; /* a full disk is retried */
		goto done;
	}
	csod_write_back_all(out);
	if (s->verify(in, out, job->trust, &why) < 0) {
		csod_fail(&job->err, "%s: the signed output failed its self-check: %s", f->name,
		          why.msg);
		goto done;
	}
	if (fchmod(out, 0644) < 0 || fsync(out) < 0) {
		csod_fail_errno(&job->err, "%s: cannot finish the output", f->name);
		goto done;
	}
	rc = 0;
done:
	if (out >= 0)
		close(out);
	if (rc < 0 && tmp_out[0])
		unlink(tmp_out);
	close(in);
	return rc;
}

void csod_sign_job_run(void *arg)
{
	csod_sign_job *job = arg;
	char(*tmp)[PATH_MAX] = calloc((size_t)job->n_files + 1, PATH_MAX);
	if (!tmp) {
		job->failed = 1;
		csod_fail(&job->err, "out of memory");
		return;
	}
	int i, rc = 0;
	int64_t total = 0;
	for (i = 0; i < job->n_files; i++)
		total += job->files[i].size;
	csod_progress_begin(&job->progress, "signing", &job->shown, job->outbox_dir, job->tmp_dir,
	                    total);
	for (i = 0; i < job->n_files && rc == 0; i++) {
		rc = sign_one(job, &job->files[i], tmp[i], PATH_MAX);
		job->signed_bytes += job->files[i].size;
	}
	/* Back to the state word until the views show the outcome. */
	csod_progress_end(&job->progress, "in_progress\n");
	if (rc == 0) {
		/* Everything verified and fsynced: publish, each file by an atomic
		 * rename, then make the renames durable with one directory sync.
		 * The outbox folder may not be there yet: views are written at
		 * the end of the loop's turn, which can come after this. */
		char dest[PATH_MAX];
		if (csod_path(dest, sizeof dest, "%s/chain.pem", job->outbox_dir) < 0)
			rc = csod_fail(&job->err, "%s: path too long", job->outbox_dir);
		if (rc == 0)
			rc = csod_outbox_mkdir(job->outbox_dir, &job->err);
		if (rc == 0)
			rc = csod_write_file_staged(job->tmp_dir, dest, job->chain_pem,
			                            strlen(job->chain_pem), 0644, &job->err);
		for (i = 0; i < job->n_files && rc == 0; i++) {
			if (csod_path(dest, sizeof dest, "%s/%s", job->outbox_dir,
			              job->files[i].output) < 0)
				rc =
				    csod_fail(&job->err, "%s: path too long", job->files[i].output);
			else if (rename(tmp[i], dest) < 0)
				rc = csod_fail_errno(&job->err, "%s: cannot publish",
				                     job->files[i].output);
			else
				tmp[i][0] = '\0';
		}
		/* All or nothing: a request is never shown half signed. */
		if (rc < 0)
			csod_sign_job_unpublish(job);
		csod_fsync_dir(job->outbox_dir);
	}
	for (i = 0; i < job->n_files; i++)
		if (tmp[i][0])
			unlink(tmp[i]);
	free(tmp);
	job->failed = rc < 0;
	job->no_space = rc < 0 && csod_error_no_space(&job->err);
}

void csod_sign_job_unpublish(const csod_sign_job *job)
{
	char path[PATH_MAX];
	for (int i = 0; i < job->n_files; i++)
		if (job->files[i].output[0] && !reserved_name(job->files[i].output) &&
		    csod_path(path, sizeof path, "%s/%s", job->outbox_dir, job->files[i].output) ==
		        0)
			unlink(path);
	if (csod_path(path, sizeof path, "%s/chain.pem", job->outbox_dir) == 0)
		unlink(path);
}

void csod_sign_job_free(void *arg)
{
	csod_sign_job *job = arg;
	if (!job)
		return;
	csod_identity_release(&job->identity);
	free(job->chain_pem);
	free(job->files);
	free(job);
}
