#include "sign_job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../signers/common/fileio.h"
#include "outputs.h"
#include "spool_access.h"

static csod_staged *stage_new(csod_sign_job *job, const char *name, csod_error *err)
{
	if (job->n_staged == job->cap_staged) {
		int cap = job->cap_staged ? 2 * job->cap_staged : 8;
		csod_staged *grown = realloc(job->staged, (size_t)cap * sizeof *grown);
		if (!grown)
			return csod_fail(err, "out of memory"), NULL;
		job->staged = grown;
		job->cap_staged = cap;
	}
	csod_staged *st = &job->staged[job->n_staged++];
	st->tmp[0] = '\0';
	snprintf(st->name, sizeof st->name, "%s", name);
	if (csod_output_reserved(st->name))
		return csod_fail(err, "%s: the name is reserved in the outbox", st->name), NULL;
	return st;
}

static void on_read(void *ctx, uint64_t done)
{
	csod_sign_job *job = ctx;
	csod_progress_set(&job->progress, job->signed_bytes + (int64_t)done);
}

/* Signs in (a file, or one part of one) into a new file in tmp/ and checks
 * it with the engine's own verifier; label names it in errors. It is made
 * durable with the rest of its publishing group (sign_publish.h). */
static int sign_into(csod_sign_job *job, const csod_signer *s, int in, const char *label,
                     csod_staged *st)
{
	int out = csod_tmpfile(job->tmp_dir, "sign", st->tmp, sizeof st->tmp, &job->err);
	if (out < 0)
		return -1;
	csod_error why;
	int rc = -1;
	/* The daemon publishes nothing unchecked: no trust store, no signing
	 * (csod_sign_checked skips the self-check without one). */
	int signed_rc = !job->trust ? csod_fail(&why, "no trust store to check it against")
	                            : csod_sign_checked(s, in, out, &job->identity, &job->options,
	                                                job->trust, &why);
	int checking = signed_rc == CSOD_CHECK_FAILED;
	if (signed_rc < 0) {
		csod_fail(&job->err, "%s: %s%s", label,
		          checking ? "the signed output failed its self-check: " : "", why.msg);
		job->err.sys_errno = why.sys_errno; /* a full disk is retried */
	} else if (fchmod(out, 0644) < 0) {
		csod_fail_errno(&job->err, "%s: cannot finish the output", label);
	} else {
		rc = 0;
	}
	close(out);
	if (rc < 0) {
		unlink(st->tmp);
		st->tmp[0] = '\0';
	}
	return rc;
}

/* request.conf detached = true: the signature of the signed output in
 * from (checked already) taken out into a new file in tmp/, published
 * beside it as <name>.sig. */
static int detach_into(csod_sign_job *job, const csod_signer *s, const csod_staged *from,
                       const char *label, csod_staged *st)
{
	unsigned char *sig = NULL;
	size_t len = 0;
	csod_error why;
	int rc = -1, in = open(from->tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1;
	if (in < 0)
		csod_fail_errno(&job->err, "%s: cannot read the signed output back", label);
	else if (s->extract_signature(in, &sig, &len, &why) < 0)
		csod_fail(&job->err, "%s: cannot take its signature out: %s", label, why.msg);
	else if ((out = csod_tmpfile(job->tmp_dir, "sign", st->tmp, sizeof st->tmp, &job->err)) >=
	             0 &&
	         csod_pwrite_all(out, sig, len, 0, &job->err) == 0) {
		if (fchmod(out, 0644) < 0)
			csod_fail_errno(&job->err, "%s: cannot finish %s", label, st->name);
		else
			rc = 0;
	}
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	if (rc < 0 && st->tmp[0]) {
		unlink(st->tmp);
		st->tmp[0] = '\0';
	}
	free(sig);
	return rc;
}

/* Appends name to the file's list of outputs. */
static int add_output(csod_file *f, const char *name, csod_error *err)
{
	size_t used = strlen(f->output), k = strlen(name);
	if (used + k + 2 > sizeof f->output)
		return csod_fail(err, "%s: lists more files than a request can name", f->name);
	if (used)
		f->output[used++] = '\n';
	memcpy(f->output + used, name, k + 1);
	return 0;
}

/* The signature alone of f's output (the last staged), as <output>.sig;
 * intake checked that the engine has them and that the name fits. */
static int detach_one(csod_sign_job *job, const csod_signer *s, csod_file *f)
{
	char name[NAME_MAX + 1];
	const csod_staged *from = &job->staged[job->n_staged - 1];
	if (snprintf(name, sizeof name, "%s.sig", from->name) >= (int)sizeof name)
		return csod_fail(&job->err, "%s: %s.sig is too long a name", f->name, from->name);
	csod_staged *st = stage_new(job, name, &job->err);
	/* stage_new may have moved the list: find the signed output again. */
	return !st || detach_into(job, s, &job->staged[job->n_staged - 2], f->name, st) < 0
	           ? -1
	           : add_output(f, name, &job->err);
}

static int sign_one(csod_sign_job *job, csod_file *f)
{
	char in_path[PATH_MAX];
	if (csod_path(in_path, sizeof in_path, "%s/%s", job->store_dir, f->name) < 0)
		return csod_fail(&job->err, "%s: path too long", f->name);
	int in = open(in_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return csod_fail_errno(&job->err, "%s: cannot open the stored copy", f->name);
	int rc = -1, n = 0;
	csod_part *parts = NULL;
	csod_error why;
	csod_staged *st;
	const csod_signer *s = csod_signer_for(job->service, f->name, in, &job->err);
	if (!s)
		goto done;
	snprintf(f->engine, sizeof f->engine, "%s", s->name);
	f->output[0] = '\0';
	job->options.input_name = f->name;
	job->options.progress = on_read;
	job->options.progress_ctx = job;
	csod_progress_set(&job->progress, job->signed_bytes);
	if (s->split && s->split(in, f->name, &parts, &n, &why) < 0) {
		csod_fail(&job->err, "%s: %s", f->name, why.msg);
		goto done;
	}
	if (n == 0) {
		char name[NAME_MAX + 1];
		if (csod_output_name(s, f->name, name, sizeof name, &job->err) < 0 ||
		    !(st = stage_new(job, name, &job->err)) ||
		    sign_into(job, s, in, f->name, st) < 0 || add_output(f, name, &job->err) < 0)
			goto done;
		rc = job->detached ? detach_one(job, s, f) : 0;
		goto done;
	}
	/* One signature per part, each checked on its own. */
	for (int i = 0; i < n; i++) {
		char label[sizeof f->name + sizeof parts[i].output + 2];
		snprintf(label, sizeof label, "%s: %s", f->name, parts[i].output);
		if (!(st = stage_new(job, parts[i].output, &job->err)) ||
		    sign_into(job, s, parts[i].fd, label, st) < 0 ||
		    add_output(f, parts[i].output, &job->err) < 0)
			goto done;
	}
	rc = 0;
done:
	csod_parts_free(parts, n);
	close(in);
	return rc;
}

void csod_sign_job_note(void *arg, int level, const char *msg)
{
	csod_sign_job *job = arg;
	/* Full (a ZIP drop names each inner file it signs): a warning still
	 * takes the last place, a lesser note is left out. */
	if (job->n_notes == CSOD_JOB_NOTES && level > LOG_WARNING)
		return;
	int i = job->n_notes < CSOD_JOB_NOTES ? job->n_notes++ : CSOD_JOB_NOTES - 1;
	snprintf(job->notes[i], sizeof job->notes[i], "%s: %s",
	         job->options.input_name ? job->options.input_name : "-", msg);
	job->note_levels[i] = level;
}

void csod_sign_job_run(void *arg)
{
	csod_sign_job *job = arg;
	int i, rc = 0;
	int64_t total = 0;
	for (i = 0; i < job->n_files; i++)
		total += job->files[i].size;
	csod_progress_begin(&job->progress, "signing", &job->shown, job->outbox_dir, job->tmp_dir,
	                    total);
	for (i = 0; i < job->n_files && rc == 0; i++) {
		rc = sign_one(job, &job->files[i]);
		job->signed_bytes += job->files[i].size;
	}
	/* Back to the state word until the views show the outcome. */
	csod_progress_end(&job->progress, "in_progress\n");
	/* Checked at intake; again here for requests taken before. */
	if (rc == 0)
		rc = csod_outputs_check(job->files, job->n_files, &job->err);
	/* Everything verified: chain.pem beside the outputs, and the job goes
	 * to be published with its group (sign_publish.h). */
	if (rc == 0)
		rc = csod_write_tmpfile_unsynced(job->tmp_dir, job->chain_pem,
		                                 strlen(job->chain_pem), 0644, job->chain_tmp,
		                                 sizeof job->chain_tmp, &job->err);
	if (rc < 0)
		csod_sign_job_drop_staged(job);
	job->failed = rc < 0;
	job->no_space = rc < 0 && csod_error_no_space(&job->err);
}

void csod_sign_job_drop_staged(csod_sign_job *job)
{
	for (int i = 0; i < job->n_staged; i++)
		if (job->staged[i].tmp[0])
			unlink(job->staged[i].tmp);
	job->n_staged = 0;
	if (job->chain_tmp[0])
		unlink(job->chain_tmp);
	job->chain_tmp[0] = '\0';
}

void csod_sign_job_unpublish(const csod_sign_job *job)
{
	char path[PATH_MAX], name[256];
	for (int i = 0; i < job->n_files; i++) {
		const char *pos = job->files[i].output;
		while (csod_outputs_next(&pos, name, sizeof name))
			if (!csod_output_reserved(name) &&
			    csod_path(path, sizeof path, "%s/%s", job->outbox_dir, name) == 0)
				unlink(path);
	}
	if (csod_path(path, sizeof path, "%s/chain.pem", job->outbox_dir) == 0)
		unlink(path);
}

void csod_sign_job_free(void *arg)
{
	csod_sign_job *job = arg;
	if (!job)
		return;
	csod_sign_job_drop_staged(job);
	csod_identity_release(&job->identity);
	free(job->staged);
	free(job->chain_pem);
	free(job->files);
	free(job);
}
