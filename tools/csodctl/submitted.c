/* csodctl request download ID --submitted: the approvers examine what they
 * approve. The bytes come from the daemon-private store copy (store/<id>/),
 * the fresh inode that is hashed, shown and signed, never from the inbox,
 * which the developer can still change. Only the approvers whose scope
 * covers the request (and root) may read it; a developer has their own
 * files already. The caller's csodctl writes each file into its folder, as
 * the caller, never over an existing file or through a link. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/audit.h"
#include "../../daemon/request.h"
#include "../../daemon/roles.h"
#include "../../lib/fsutil.h"
#include "../../lib/text.h"
#include "ctl.h"

int ctl_plain_name(const char *name, size_t len)
{
	if (len == 0 || len > 255 || memchr(name, '\0', len) || memchr(name, '/', len) ||
	    !csod_utf8_valid(name, len))
		return 0;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return 0;
	return 1;
}

int ctl_open_new(int dir_fd, const char *dir, const char *name)
{
	if (!ctl_plain_name(name, strlen(name))) {
		char *shown = csod_escape(name);
		ctl_error("%s: not a plain file name; nothing written", shown ? shown : "?");
		free(shown);
		return -1;
	}
	int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		ctl_error("%s/%s: %s", dir, name,
		          errno == EEXIST ? "exists already (csodctl writes no file over another)"
		                          : strerror(errno));
	return fd;
}

/* Only the approvers whose scope covers the request; anyone else who may
 * see it (its developer) is told why, anyone who may not is told there is
 * no such request, as everywhere. */
static int may_examine(ctl *c, csod_db *db, const csod_request *r)
{
	if (c->is_root || (c->admin && csod_admin_covers(c->admin, r->organization, r->department)))
		return 1;
	csod_audit(db, c->user, "csodctl.refused", r->id,
	           "download --submitted: not an approver of the request");
	if (ctl_may_see(c, r->developer, r->organization, r->department))
		ctl_error("%s may not examine the submitted files of request %s: only its "
		          "approvers may (a developer has their own files)",
		          c->user, r->id);
	else
		ctl_error("no request %s", r->id);
	return 0;
}

static int send_files(ctl *c, const csod_request *r, int store_fd, int dir_fd, const char *dir)
{
	for (int i = 0; i < r->n_files; i++) {
		const char *name = r->files[i].name;
		int in = openat(store_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		struct stat st;
		int rc =
		    in < 0 ? ctl_error("store/%s/%s: %s", r->id, ctl_text(c, r->id, "name", name),
		                       strerror(errno))
		    : fstat(in, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != r->files[i].size
		        ? ctl_error("store/%s/%s: not the file that was taken in", r->id,
		                    ctl_text(c, r->id, "name", name))
		        : ctl_deliver_named(c, in, dir_fd, dir, name);
		if (in >= 0)
			close(in);
		if (rc != 0)
			return rc;
		if (!c->serving)
			printf("%s/%s\n", dir, ctl_text(c, r->id, "name", name));
	}
	return 0;
}

int ctl_download_submitted(ctl *c, csod_db *db, const ctl_download *dl)
{
	if (!c->is_root && !c->admin)
		return ctl_error("%s is not an approver: only approvers examine submitted files",
		                 c->user);
	csod_request r;
	if (csod_request_load(db, dl->id, &r) != 0)
		return ctl_error("no request %s", dl->id);
	int rc = 1;
	char store[PATH_MAX];
	int store_fd = -1, dir_fd = -1;
	if (!may_examine(c, db, &r)) {
		/* said */
	} else if (!csod_request_files_kept(r.state)) {
		ctl_error("request %s is %s: its submitted files are kept only until it is "
		          "signed, declined or fails",
		          r.id, r.state);
	} else if (csod_path(store, sizeof store, "%s/store/%s", c->spool, r.id) < 0 ||
	           (store_fd = open(store, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		ctl_error("%s: %s", store, strerror(errno));
	} else if (!c->serving &&
	           (dir_fd = open(dl->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		ctl_error("%s: %s", dl->dest, strerror(errno));
	} else {
		rc = send_files(c, &r, store_fd, dir_fd, dl->dest);
		if (rc == 0)
			csod_audit(db, c->user, "request.examine", r.id, "%d submitted file(s)",
			           r.n_files);
	}
	if (store_fd >= 0)
		close(store_fd);
	if (dir_fd >= 0)
		close(dir_fd);
	csod_request_free(&r);
	return rc;
}
