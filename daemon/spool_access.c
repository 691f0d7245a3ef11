#include "spool_access.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "developers.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* One entry: tag, its qualifier (a uid or gid, or NULL), its permissions
 * (ACL_READ | ACL_WRITE | ACL_EXECUTE). */
static int add_entry(acl_t *acl, acl_tag_t tag, const void *qualifier, int perms)
{
	acl_entry_t e;
	acl_permset_t ps;
	if (acl_create_entry(acl, &e) < 0 || acl_set_tag_type(e, tag) < 0 ||
	    (qualifier && acl_set_qualifier(e, qualifier) < 0) || acl_get_permset(e, &ps) < 0 ||
	    acl_clear_perms(ps) < 0)
		return -1;
	static const acl_perm_t each[] = {ACL_READ, ACL_WRITE, ACL_EXECUTE};
	for (size_t i = 0; i < sizeof each / sizeof each[0]; i++)
		if ((perms & (int)each[i]) && acl_add_perm(ps, each[i]) < 0)
			return -1;
	return acl_set_permset(e, ps);
}

/* r-x for a folder; r-- for a file. */
static int read_perms(int folder)
{
	return folder ? ACL_READ | ACL_EXECUTE : ACL_READ;
}

static int seen_before(const unsigned *ids, int i)
{
	for (int k = 0; k < i; k++)
		if (ids[k] == ids[i])
			return 1;
	return 0;
}

/* The whole ACL, built from nothing, so that whatever entries were there
 * before (an admin since removed, a group an older csod set) are gone. A
 * file's owner reads it only; a folder's owner has it all. */
static acl_t build_acl(uid_t owner, const uid_t *uids, int n_uids, int users_write,
                       const gid_t *gids, int n_gids, int folder, int *named)
{
	acl_t acl = acl_init(4 + n_uids + n_gids);
	int user_perms = read_perms(folder) | (users_write ? ACL_WRITE : 0);
	*named = 0;
	if (!acl ||
	    add_entry(&acl, ACL_USER_OBJ, NULL,
	              folder ? ACL_READ | ACL_WRITE | ACL_EXECUTE : ACL_READ) < 0 ||
	    add_entry(&acl, ACL_GROUP_OBJ, NULL, 0) < 0 || add_entry(&acl, ACL_OTHER, NULL, 0) < 0)
		goto fail;
	for (int i = 0; i < n_uids; i++) {
		if (uids[i] == owner || seen_before(uids, i))
			continue;
		if (add_entry(&acl, ACL_USER, &uids[i], user_perms) < 0)
			goto fail;
		(*named)++;
	}
	for (int i = 0; i < n_gids; i++) {
		if (seen_before(gids, i))
			continue;
		if (add_entry(&acl, ACL_GROUP, &gids[i], read_perms(folder)) < 0)
			goto fail;
		(*named)++;
	}
	/* The mask (made here, shown as the mode's group bits) lets the named
	 * entries through; the owning group's own entry still grants nothing. */
	if (*named && acl_calc_mask(&acl) < 0)
		goto fail;
	if (acl_valid(acl) < 0)
		goto fail;
	return acl;
fail:
	if (acl) {
		int saved = errno;
		acl_free(acl);
		errno = saved;
	}
	return NULL;
}

/* users_write: the named users may also create entries (approvals/, where
 * the sticky bit keeps each to their own markers). */
static int grant_fd(int fd, const char *name, uid_t owner, gid_t group, const uid_t *uids,
                    int n_uids, int users_write, const gid_t *gids, int n_gids, csod_error *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return csod_fail_errno(err, "%s", name);
	int folder = S_ISDIR(st.st_mode);
	if ((st.st_uid != owner || st.st_gid != group) && fchown(fd, owner, group) < 0)
		return csod_fail_errno(err, "cannot give %s to the daemon (uid %u, gid %u)", name,
		                       (unsigned)owner, (unsigned)group);
	int named;
	acl_t acl = build_acl(owner, uids, n_uids, users_write, gids, n_gids, folder, &named);
	if (!acl)
		return csod_fail_errno(err, "%s: cannot build its ACL", name);
	/* The ACL sets the permission bits; the sticky bit is the mode's. */
	int rc = users_write && fchmod(fd, 01700) < 0 ? -1 : acl_set_fd(fd, acl);
	int saved = errno;
	acl_free(acl);
	if (rc == 0)
		return 0;
	/* Fail closed: without its ACL nobody but the daemon reads the folder. */
	if (fchmod(fd, folder ? 0700 : 0400) < 0)
		return csod_fail_errno(err, "cannot close %s", name);
	int unsupported = saved == ENOTSUP || saved == EOPNOTSUPP;
	if (unsupported && !named)
		return 0; /* nothing to grant: the mode says it all */
	errno = saved;
	csod_fail_errno(err, "cannot set the ACL of %s%s; only the daemon can read it", name,
	                unsupported ? " (the filesystem needs POSIX ACLs: mount it with acl)" : "");
	return 1;
}

/* Opens name under parent_fd without following a symbolic link, then works
 * on that fd only: nothing can swap the folder between check and change.
 * label names it in messages. */
static int dir_grant(int parent_fd, const char *name, const char *label, uid_t owner, gid_t group,
                     const uid_t *uids, int n_uids, int users_write, const gid_t *gids, int n_gids,
                     csod_error *err)
{
	int fd = openat(parent_fd, name, DIR_FLAGS);
	if (fd < 0)
		return csod_fail_errno(err, "%s", label);
	int rc = grant_fd(fd, label, owner, group, uids, n_uids, users_write, gids, n_gids, err);
	close(fd);
	return rc;
}

void csod_spool_owner(const char *spool, uid_t *uid, gid_t *gid)
{
	*uid = geteuid();
	*gid = getegid();
	char state[PATH_MAX];
	struct stat st;
	if (*uid == 0 && csod_path(state, sizeof state, "%s/store", spool) == 0 &&
	    lstat(state, &st) == 0 && S_ISDIR(st.st_mode)) {
		*uid = st.st_uid;
		*gid = st.st_gid;
	}
}

static int open_spool_dir(const char *spool, const char *dir, csod_error *err)
{
	char path[PATH_MAX];
	if (csod_path(path, sizeof path, "%s/%s", spool, dir) < 0)
		return csod_fail(err, "spool path too long: %s", spool);
	int fd = open(path, DIR_FLAGS);
	if (fd < 0)
		return csod_fail_errno(err, "%s", path);
	return fd;
}

static int restrict_outbox_at(int outbox_fd, const char *spool, const char *user, csod_error *err)
{
	uid_t owner;
	gid_t group;
	csod_spool_owner(spool, &owner, &group);
	struct passwd *pw = getpwnam(user);
	uid_t reader = pw ? pw->pw_uid : 0;
	char label[PATH_MAX];
	snprintf(label, sizeof label, "outbox/%s", user);
	return dir_grant(outbox_fd, user, label, owner, group, &reader, pw ? 1 : 0, 0, NULL, 0,
	                 err);
}

int csod_outbox_restrict(const char *spool, const char *user, csod_error *err)
{
	int outbox_fd = open_spool_dir(spool, "outbox", err);
	if (outbox_fd < 0)
		return -1;
	int rc = restrict_outbox_at(outbox_fd, spool, user, err);
	close(outbox_fd);
	return rc;
}

void csod_outboxes_restrict(const char *spool)
{
	csod_error err;
	int outbox_fd = open_spool_dir(spool, "outbox", &err);
	DIR *dir = outbox_fd < 0 ? NULL : fdopendir(outbox_fd);
	if (!dir) {
		if (outbox_fd >= 0)
			close(outbox_fd);
		csod_log(LOG_ERR, NULL, "outboxes: %s", err.msg);
		return;
	}
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.' || !csod_user_name_ok(e->d_name) ||
		    (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		if (restrict_outbox_at(dirfd(dir), spool, e->d_name, &err) != 0)
			csod_log(LOG_ERR, NULL, "%s", err.msg);
	}
	closedir(dir);
}

int csod_approver_dirs_restrict(const char *spool, const csod_config *cfg, csod_error *err)
{
	uid_t owner;
	gid_t group;
	csod_spool_owner(spool, &owner, &group);
	uid_t *admins = calloc((size_t)cfg->n_admins + 1, sizeof *admins);
	if (!admins)
		return csod_fail(err, "out of memory");
	for (int i = 0; i < cfg->n_admins; i++)
		admins[i] = cfg->admins[i].uid;
	int fd = open(spool, DIR_FLAGS);
	int n_groups = cfg->approvers_group ? 1 : 0;
	int rc = fd < 0 ? csod_fail_errno(err, "%s", spool)
	                : dir_grant(fd, "requests", "requests/", owner, group, admins,
	                            cfg->n_admins, 0, &cfg->approvers_gid, n_groups, err);
	/* approvals/: only admins create markers there. A marker's owner is its
	 * approver, so nobody else may even move a file in: not a developer
	 * with an approver's file from a shared folder. */
	if (rc == 0)
		rc = dir_grant(fd, "approvals", "approvals/", owner, group, admins, cfg->n_admins,
		               1, &cfg->approvers_gid, n_groups, err);
	if (fd >= 0)
		close(fd);
	free(admins);
	return rc;
}

int csod_outbox_mkdir(const char *request_dir, csod_error *err)
{
	/* request_dir is <spool>/outbox/<user>/<id>. */
	char spool[PATH_MAX], user_dir[PATH_MAX];
	if (csod_path(user_dir, sizeof user_dir, "%s", request_dir) < 0)
		return csod_fail(err, "path too long: %s", request_dir);
	char *slash = strrchr(user_dir, '/');
	if (!slash)
		return csod_fail(err, "not an outbox path: %s", request_dir);
	*slash = '\0';
	const char *user = strrchr(user_dir, '/');
	snprintf(spool, sizeof spool, "%s", user_dir);
	char *cut = user ? strstr(spool, "/outbox/") : NULL;
	if (!user || !cut || cut + strlen("/outbox") != spool + (user - user_dir))
		return csod_fail(err, "not an outbox path: %s", request_dir);
	*cut = '\0';
	if (mkdir(user_dir, 0700) == 0 && csod_outbox_restrict(spool, user + 1, err) < 0)
		return -1;
	if (mkdir(request_dir, 0755) < 0 && errno != EEXIST)
		return csod_fail_errno(err, "cannot create directory %s", request_dir);
	return 0;
}

int csod_grant_readers_fd(int fd, const char *spool, const char *label, const uid_t *uids,
                          int n_uids, csod_error *err)
{
	uid_t owner;
	gid_t group;
	csod_spool_owner(spool, &owner, &group);
	return grant_fd(fd, label, owner, group, uids, n_uids, 0, NULL, 0, err);
}
