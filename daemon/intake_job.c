/* Intake's file work, on an intake thread: the drop (already renamed out
 * of the inbox) is copied file by file into tmp/<id>.intake while being
 * hashed, each file is checked to be something its service signs, and the
 * folder is renamed to store/<id> in one step. */
#include "intake_job.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../signers/signer.h"
#include "intake.h"
#include "names.h"

/* Names in a folder drop that are instructions, not files to sign. */
static int is_control_name(const char *name)
{
	return strcmp(name, "READY") == 0 || strcmp(name, "request.conf") == 0;
}

static int add_file(csod_request *r, const char *name, csod_error *err)
{
	csod_file *grown = realloc(r->files, sizeof *grown * (size_t)(r->n_files + 1));
	if (!grown)
		return csod_fail(err, "out of memory");
	r->files = grown;
	csod_file *f = &r->files[r->n_files++];
	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "%s", name);
	return 0;
}

/* Copies one regular file src (inside the renamed drop) to dst_dir/name,
 * refusing what must not be signed. */
static int take_file(const csod_intake_job *job, csod_request *r, const char *src, const char *name,
                     const char *dst_dir, csod_error *err)
{
	if (csod_name_check(name, err) < 0)
		return -1;
	if (strlen(name) >= sizeof r->files[0].name)
		return csod_fail(err, "%.60s...: file name too long", name);
	if (job->max_request_files > 0 && r->n_files >= job->max_request_files)
		return csod_fail(err, "%s: more than %lld files in one request", r->drop_name,
		                 (long long)job->max_request_files);
	int fd = open(src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		if (errno == ELOOP)
			return csod_fail(err, "%s: is a symbolic link; links are not followed",
			                 name);
		return csod_fail_errno(err, "%s: cannot open", name);
	}
	int rc = -1;
	if (fstat(fd, &st) < 0) {
		csod_fail_errno(err, "%s: cannot stat", name);
	} else if (S_ISDIR(st.st_mode)) {
		csod_fail(err, "%s: is a folder inside a folder drop; only one level is taken",
		          name);
	} else if (!S_ISREG(st.st_mode)) {
		csod_fail(err, "%s: is not a regular file (device, FIFO or socket)", name);
	} else if (st.st_nlink > 1) {
		csod_fail(err, "%s: has other hard links; copy the file instead of linking it",
		          name);
	} else if (st.st_size == 0) {
		csod_fail(err, "%s: is empty", name);
	} else if (job->max_file_size > 0 && st.st_size > job->max_file_size) {
		csod_fail(err, "%s: is %lld bytes, over max_file_size (%lld)", name,
		          (long long)st.st_size, (long long)job->max_file_size);
	} else if (add_file(r, name, err) == 0) {
		char dst[PATH_MAX];
		int out = -1;
		if (csod_path(dst, sizeof dst, "%s/%s", dst_dir, name) < 0)
			csod_fail(err, "%s: path too long", name);
		else if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
			csod_fail_errno(err, "%s: cannot create the store copy", name);
		else
			rc = csod_copy_and_hash(fd, out, job->max_file_size,
			                        &r->files[r->n_files - 1], err);
		if (out >= 0)
			close(out);
	}
	close(fd);
	return rc;
}

static int take_folder(const csod_intake_job *job, csod_request *r, const char *src,
                       const char *dst_dir, csod_error *err)
{
	char conf[PATH_MAX];
	struct stat st;
	if (csod_path(conf, sizeof conf, "%s/request.conf", src) == 0 && lstat(conf, &st) == 0) {
		if (!S_ISREG(st.st_mode) || st.st_size > 65536)
			return csod_fail(err, "request.conf: not a small regular file");
		if (csod_request_conf_parse(conf, r, err) < 0)
			return -1;
	}
	DIR *dir = opendir(src);
	if (!dir)
		return csod_fail_errno(err, "%s: cannot read the folder", r->drop_name);
	/* Sorted, so that a request's files have a stable order. */
	struct dirent **names = NULL;
	int n = scandir(src, &names, NULL, alphasort);
	closedir(dir);
	if (n < 0)
		return csod_fail_errno(err, "%s: cannot read the folder", r->drop_name);
	int rc = 0;
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		if (rc == 0 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
		    !is_control_name(name)) {
			char path[PATH_MAX];
			if (csod_path(path, sizeof path, "%s/%s", src, name) < 0)
				rc = csod_fail(err, "%s: path too long", name);
			else
				rc = take_file(job, r, path, name, dst_dir, err);
		}
		free(names[i]);
	}
	free(names);
	if (rc == 0 && r->n_files == 0)
		rc = csod_fail(err, "%s: the folder holds no files to sign", r->drop_name);
	return rc;
}

/* Each file must be something its service can sign, and every digest must
 * be one we know: better to say so now than after an approval. */
static int check_signable(csod_request *r, const char *dir, csod_error *err)
{
	char buf[sizeof r->digests];
	snprintf(buf, sizeof buf, "%s", r->digests);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!csod_digest_by_name(tok))
			return csod_fail(err, "unknown digest '%s'", tok);
	for (int i = 0; i < r->n_files; i++) {
		char path[PATH_MAX], output[sizeof r->files[i].output];
		if (csod_path(path, sizeof path, "%s/%s", dir, r->files[i].name) < 0)
			return csod_fail(err, "%s: path too long", r->files[i].name);
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return csod_fail_errno(err, "%s: cannot open the store copy",
			                       r->files[i].name);
		const csod_signer *s = csod_signer_for(r->service, r->files[i].name, fd, err);
		close(fd);
		if (!s || csod_output_name(s, r->files[i].name, output, sizeof output, err) < 0)
			return -1;
		snprintf(r->files[i].engine, sizeof r->files[i].engine, "%s", s->name);
	}
	return 0;
}

void csod_intake_job_run(void *arg)
{
	csod_intake_job *job = arg;
	csod_request *r = &job->r;
	/* The hand-off from the inbox is durable before the request can be
	 * recorded: otherwise a power cut could put the drop back in the inbox
	 * after its request exists, and it would be taken twice. */
	csod_fsync_dir(job->incoming);
	csod_fsync_parent(job->incoming);
	/* A crash may have left either; both are rebuilt from the incoming copy. */
	csod_rm_rf(job->work);
	csod_rm_rf(job->store);
	if (job->rc < 0)
		return;
	struct stat st;
	csod_error *err = &job->err;
	int rc = csod_mkdir_p(job->work, 0700, err);
	if (rc == 0 && lstat(job->src, &st) < 0)
		rc = csod_fail_errno(err, "%s: vanished during intake", r->drop_name);
	if (rc == 0) {
		if (S_ISDIR(st.st_mode))
			rc = take_folder(job, r, job->src, job->work, err);
		else
			rc = take_file(job, r, job->src, r->drop_name, job->work, err);
	}
	if (rc == 0)
		rc = check_signable(r, job->work, err);
	if (rc == 0 && rename(job->work, job->store) < 0)
		rc = csod_fail_errno(err, "cannot move %s into the store", r->drop_name);
	if (rc < 0)
		csod_rm_rf(job->work);
	job->rc = rc;
}

void csod_intake_job_free(void *arg)
{
	csod_intake_job *job = arg;
	if (job)
		csod_request_free(&job->r);
	free(job);
}
