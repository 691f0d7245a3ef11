/* Each approver's own page, requests/approvers/<user>.html (status_page.h):
 * the daemon's file, read-only, with one ACL entry user:<approver>:r--, so
 * that nobody else (not another approver, not approvers_group) reads what
 * waits in someone else's scope. The folder is 0711: an approver opens
 * their own page by name and cannot list whose pages there are. */
#include "status_page.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "spool_access.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* requests/approvers/, made 0711 whatever the umask, as an fd. */
static int open_pages_dir(const char *spool, csod_error *err)
{
	char dir[PATH_MAX];
	if (csod_path(dir, sizeof dir, "%s/requests/approvers", spool) < 0)
		return csod_fail(err, "spool path too long: %s", spool);
	if (mkdir(dir, 0711) < 0 && errno != EEXIST)
		return csod_fail_errno(err, "cannot create %s", dir);
	int fd = open(dir, DIR_FLAGS);
	if (fd < 0)
		return csod_fail_errno(err, "%s", dir);
	if (fchmod(fd, 0711) < 0) {
		close(fd);
		return csod_fail_errno(err, "cannot set the mode of %s", dir);
	}
	return fd;
}

/* Written in tmp/, its ACL set, then renamed into place: a reader sees
 * the old page or the new one, never one readable by anyone else. */
static int write_one(const char *spool, int dir_fd, const csod_approver_page *p, csod_error *err)
{
	char tmpdir[PATH_MAX], tmp[PATH_MAX], name[NAME_MAX + 1], label[PATH_MAX];
	if (csod_path(tmpdir, sizeof tmpdir, "%s/tmp", spool) < 0 ||
	    csod_path(name, sizeof name, "%s.html", p->user) < 0)
		return csod_fail(err, "%s: name too long for a page", p->user);
	snprintf(label, sizeof label, "requests/approvers/%s", name);
	if (csod_write_tmpfile(tmpdir, p->html, strlen(p->html), 0400, tmp, sizeof tmp, err) < 0)
		return -1;
	/* tmp/ is the daemon's alone: the file is the one just written. */
	int fd = open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int rc = fd < 0 ? csod_fail_errno(err, "%s", tmp) : 0;
	/* > 0: no ACL (a filesystem without them); the page stays the
	 * daemon's alone, which the error says. */
	if (rc == 0 && csod_grant_readers_fd(fd, spool, label, &p->uid, 1, err) != 0)
		rc = -1;
	if (fd >= 0)
		close(fd);
	if (rc == 0 && renameat(AT_FDCWD, tmp, dir_fd, name) < 0)
		rc = csod_fail_errno(err, "cannot publish %s", label);
	if (rc != 0)
		unlink(tmp);
	return rc;
}

/* Removes the pages of people who are approvers no more. */
static void prune(int dir_fd, const csod_approver_page *pages, int n)
{
	int fd = dup(dir_fd);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		int keep = 0;
		for (int i = 0; i < n && !keep; i++) {
			size_t len = strlen(pages[i].user);
			keep = strncmp(e->d_name, pages[i].user, len) == 0 &&
			       strcmp(e->d_name + len, ".html") == 0;
		}
		if (!keep && unlinkat(dir_fd, e->d_name, 0) == 0)
			csod_log(LOG_INFO, NULL,
			         "removed requests/approvers/%s: not an approver now", e->d_name);
	}
	closedir(dir);
}

void csod_approver_pages_write(const char *spool, const csod_approver_page *pages, int n)
{
	csod_error err;
	int dir_fd = open_pages_dir(spool, &err);
	if (dir_fd < 0) {
		csod_log(LOG_ERR, NULL, "approvers' pages: %s", err.msg);
		return;
	}
	for (int i = 0; i < n; i++)
		if (pages[i].html && write_one(spool, dir_fd, &pages[i], &err) != 0)
			csod_log(LOG_ERR, NULL, "%s", err.msg);
	prune(dir_fd, pages, n);
	close(dir_fd);
}
