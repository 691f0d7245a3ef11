#include "request_files.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "request.h"
#include "roles.h"
#include "spool_access.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

int csod_request_files_kept(const char *state)
{
	return strcmp(state, "created") == 0 || strcmp(state, "approved") == 0 ||
	       strcmp(state, "in_progress") == 0;
}

int csod_files_view_render(const csod_daemon *d, const csod_request *r, csod_files_view *v,
                           csod_error *err)
{
	memset(v, 0, sizeof *v);
	snprintf(v->id, sizeof v->id, "%s", r->id);
	snprintf(v->spool, sizeof v->spool, "%s", d->spool);
	/* Only while it waits for approval: once decided there is nothing
	 * left to examine, and an auto-approved request (whose views are first
	 * written as in_progress) is never copied at all. */
	v->show = strcmp(r->state, "created") == 0;
	if (!v->show)
		return 0;
	v->names = calloc((size_t)r->n_files + 1, sizeof *v->names);
	v->readers = calloc((size_t)d->cfg->n_admins + 1, sizeof *v->readers);
	if (!v->names || !v->readers) {
		csod_files_view_clear(v);
		return csod_fail(err, "out of memory");
	}
	for (int i = 0; i < r->n_files; i++)
		snprintf(v->names[v->n_names++], sizeof v->names[0], "%s", r->files[i].name);
	/* An admin without a Unix user (uid -1) has nobody to let in. */
	for (int i = 0; i < d->cfg->n_admins; i++) {
		const csod_admin *a = &d->cfg->admins[i];
		if (a->uid != (uid_t)-1 && csod_admin_covers(a, r->organization, r->department))
			v->readers[v->n_readers++] = a->uid;
	}
	return 0;
}

void csod_files_view_clear(csod_files_view *v)
{
	free(v->names);
	free(v->readers);
	v->names = NULL;
	v->readers = NULL;
	v->n_names = v->n_readers = 0;
}

/* A reflink where the filesystem shares blocks (btrfs, XFS): instant and
 * still a separate inode; otherwise a copy. */
static int clone_or_copy(int in, int out, csod_error *err)
{
	if (ioctl(out, FICLONE, in) == 0)
		return 0;
	return csod_copy_fd(in, out, err);
}

/* Who may read fd: the readers. Where the ACL cannot be set (a filesystem
 * without POSIX ACLs) the file or folder is left to the daemon alone,
 * which is logged, not an error: nobody else reads it. */
static int grant(const csod_files_view *v, int fd, const char *label, csod_error *err)
{
	int rc = csod_grant_readers_fd(fd, v->spool, label, v->readers, v->n_readers, err);
	if (rc > 0)
		csod_log(LOG_ERR, v->id, "%s", err->msg);
	return rc < 0 ? -1 : 0;
}

/* One store file into the folder being built (dir_fd), 0440 with the
 * readers' ACL entries. 1 when the store copy is gone (the request moved
 * on while its view was waiting). */
static int copy_one(const csod_files_view *v, int store_fd, int dir_fd, const char *name,
                    csod_error *err)
{
	int in = openat(store_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (in < 0)
		return errno == ENOENT ? 1 : csod_fail_errno(err, "store/%s/%s", v->id, name);
	int out = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	char label[PATH_MAX];
	snprintf(label, sizeof label, "requests/%s/files/%s", v->id, name);
	int rc = out < 0 ? csod_fail_errno(err, "%s", label) : clone_or_copy(in, out, err);
	if (rc == 0 && fsync(out) < 0)
		rc = csod_fail_errno(err, "%s: fsync", label);
	if (rc == 0)
		rc = grant(v, out, label, err);
	close(in);
	if (out >= 0)
		close(out);
	return rc;
}

/* The folder in tmp/ (fresh), filled, then renamed into place: a reader
 * sees all the files or no folder. */
static int build(const csod_files_view *v, int dest_fd, csod_error *err)
{
	char tmp[PATH_MAX], store[PATH_MAX];
	if (csod_path(tmp, sizeof tmp, "%s/tmp/%s.files", v->spool, v->id) < 0 ||
	    csod_path(store, sizeof store, "%s/store/%s", v->spool, v->id) < 0)
		return csod_fail(err, "requests/%s/files: path too long", v->id);
	csod_rm_rf(tmp);
	int store_fd = open(store, DIR_FLAGS);
	if (store_fd < 0)
		return errno == ENOENT ? 0 : csod_fail_errno(err, "%s", store);
	int dir_fd = -1, rc = 0;
	if (mkdir(tmp, 0700) < 0 || (dir_fd = open(tmp, DIR_FLAGS)) < 0)
		rc = csod_fail_errno(err, "cannot create %s", tmp);
	for (int i = 0; rc == 0 && i < v->n_names; i++)
		rc = copy_one(v, store_fd, dir_fd, v->names[i], err);
	char label[64 + 32];
	snprintf(label, sizeof label, "requests/%s/files", v->id);
	if (rc == 0)
		rc = grant(v, dir_fd, label, err);
	if (rc == 0 && (fsync(dir_fd) < 0 || renameat(AT_FDCWD, tmp, dest_fd, "files") < 0))
		rc = csod_fail_errno(err, "cannot publish %s", label);
	if (dir_fd >= 0)
		close(dir_fd);
	close(store_fd);
	if (rc != 0)
		csod_rm_rf(tmp);
	/* 1: the request moved on; nothing to show. */
	return rc < 0 ? -1 : 0;
}

/* Who may read the folder and each file: the readers of now (an admin
 * removed at a reload loses access at the next rewrite). */
static int regrant(const csod_files_view *v, int files_fd, csod_error *err)
{
	char label[64 + 32];
	snprintf(label, sizeof label, "requests/%s/files", v->id);
	for (int i = 0; i < v->n_names; i++) {
		int fd =
		    openat(files_fd, v->names[i], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return csod_fail_errno(err, "%s/%s", label, v->names[i]);
		int rc = grant(v, fd, label, err);
		close(fd);
		if (rc < 0)
			return -1;
	}
	return grant(v, files_fd, label, err);
}

int csod_request_files_write(const csod_files_view *v, const char *details_dir, csod_error *err)
{
	int dest_fd = open(details_dir, DIR_FLAGS);
	if (dest_fd < 0)
		return csod_fail_errno(err, "%s", details_dir);
	int rc = 0;
	if (!v->show) {
		char path[PATH_MAX];
		if (csod_path(path, sizeof path, "%s/files", details_dir) == 0)
			csod_rm_rf(path);
	} else {
		int files_fd = openat(dest_fd, "files", DIR_FLAGS);
		if (files_fd >= 0) {
			rc = regrant(v, files_fd, err);
			close(files_fd);
		} else {
			rc = build(v, dest_fd, err);
		}
	}
	close(dest_fd);
	return rc;
}
