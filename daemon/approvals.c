#include "approvals.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "../lib/text.h"
#include "audit.h"
#include "checks.h"
#include "check_verdicts.h"
#include "dispatch.h"
#include "request.h"
#include "roles.h"

int csod_approvals_watch(csod_daemon *d, csod_error *err)
{
	char dir[PATH_MAX];
	csod_spool_path(d, dir, sizeof dir, "approvals");
	d->approvals_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->approvals_fd < 0)
		return csod_fail_errno(err, "inotify");
	if (inotify_add_watch(d->approvals_fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0)
		return csod_fail_errno(err, "cannot watch %s", dir);
	return 0;
}

static void user_name(uid_t uid, char *out, size_t len)
{
	struct passwd *pw = getpwuid(uid);
	if (pw)
		snprintf(out, len, "%s", pw->pw_name);
	else
		snprintf(out, len, "uid:%u", (unsigned)uid);
}

/* Renames name (in dir_fd) to a fresh dot name, which no scan looks at;
 * removes it if even that fails. */
static void move_aside(int dir_fd, const char *name)
{
	char fresh[64];
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(fresh, sizeof fresh, ".csod-rejected-%lld-%u", (long long)csod_now(), i);
		if (renameat2(dir_fd, name, dir_fd, fresh, RENAME_NOREPLACE) == 0)
			return;
		if (errno != EEXIST)
			break;
	}
	unlinkat(dir_fd, name, 0);
}

/* Renames the marker NAME to NAME.rejected with NAME.reason beside it.
 * Whatever sits in approvals/ may be any admin's (or root's): a folder
 * left at NAME.rejected or NAME.reason must not keep the marker's name
 * taken (the approver's own marker needs it), so it is moved aside. */
static void reject(csod_daemon *d, const char *name, const char *actor, const char *id,
                   const char *reason)
{
	char dir[PATH_MAX], tmp[PATH_MAX], reason_path[PATH_MAX], text[600];
	char dest_name[NAME_MAX + 1], reason_name[NAME_MAX + 1];
	/* The reason may quote the marker's name: shown escaped. */
	csod_escape_to(reason, text, sizeof text - 1);
	strcat(text, "\n");
	int dir_fd = csod_spool_path(d, dir, sizeof dir, "approvals") < 0
	                 ? -1
	                 : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		csod_log(LOG_ERR, id, "marker %s: cannot open approvals/; left alone", name);
		return;
	}
	/* A name too long for its .rejected keeps no reason, but is moved. */
	int named = csod_path(dest_name, sizeof dest_name, "%s.rejected", name) == 0 &&
	            csod_path(reason_name, sizeof reason_name, "%s.reason", name) == 0 &&
	            csod_path(reason_path, sizeof reason_path, "%s/%s", dir, reason_name) == 0 &&
	            csod_spool_path(d, tmp, sizeof tmp, "%s", d->tmp_rel) == 0;
	struct stat st;
	if (named && fstatat(dir_fd, reason_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode))
		move_aside(dir_fd, reason_name);
	if (named && fstatat(dir_fd, dest_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode))
		move_aside(dir_fd, dest_name);
	if (named)
		csod_write_file_atomic(tmp, reason_path, text, strlen(text), 0644, NULL);
	if (!named || renameat(dir_fd, name, dir_fd, dest_name) < 0)
		move_aside(dir_fd, name);
	close(dir_fd);
	csod_audit_at(d->db, LOG_WARNING, actor, "approval.rejected", id, "%s: %s", name, reason);
}

/* Moves the marker to approvals/done/: 1 when this node did, 0 when it was
 * gone (another node of a cluster took it first, and acts on it). The
 * marker is first renamed to a name of this node's own, so that over NFS,
 * where a retransmitted RENAME may report ENOENT to the node whose rename
 * was done, the node can tell by that name whether it won. */
static int archive(csod_daemon *d, const char *name)
{
	char path[PATH_MAX], mine[PATH_MAX], dest[PATH_MAX];
	struct stat st;
	if (csod_spool_path(d, path, sizeof path, "approvals/%s", name) < 0 ||
	    csod_spool_path(d, mine, sizeof mine, "approvals/done/.%s.%s", name, d->node) < 0 ||
	    csod_spool_path(d, dest, sizeof dest, "approvals/done/%s", name) < 0) {
		csod_log(LOG_ERR, NULL, "marker %s: path too long to archive", name);
		return 1;
	}
	if (rename(path, mine) < 0) {
		if (errno == ENOENT)
			return lstat(mine, &st) == 0;
		/* Cannot be archived (a name too long with the node's): taken
		 * by whoever removes it. */
		return unlink(path) == 0 || errno != ENOENT;
	}
	if (lstat(dest, &st) == 0) {
		/* The same marker name again (a resend): keep both. */
		char stamp[32];
		csod_iso_time(csod_now(), stamp);
		csod_spool_path(d, dest, sizeof dest, "approvals/done/%s.%s", name, stamp);
	}
	if (rename(mine, dest) < 0)
		unlink(mine);
	return 1;
}

static void process_marker(csod_daemon *d, const char *name)
{
	const char *dot = strrchr(name, '.');
	int approve = dot && strcmp(dot, ".approve") == 0;
	int decline = dot && strcmp(dot, ".decline") == 0;
	int recheck = dot && strcmp(dot, ".recheck") == 0;
	if (!approve && !decline && !recheck)
		return;
	char id[32];
	size_t idlen = (size_t)(dot - name);
	if (idlen == 0 || idlen >= sizeof id) {
		reject(d, name, "csodd", NULL, "not a request id");
		return;
	}
	snprintf(id, sizeof id, "%.*s", (int)idlen, name);

	char path[PATH_MAX];
	if (csod_spool_path(d, path, sizeof path, "approvals/%s", name) < 0)
		return;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		if (errno == ELOOP)
			reject(d, name, "csodd", id, "the marker is a symbolic link");
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		close(fd);
		reject(d, name, "csodd", id, "the marker is not a plain regular file");
		return;
	}
	char actor[64];
	user_name(st.st_uid, actor, sizeof actor);
	char message[CSOD_MESSAGE_MAX + 2];
	ssize_t n = read(fd, message, CSOD_MESSAGE_MAX + 1);
	close(fd);
	if (n < 0 || n > CSOD_MESSAGE_MAX) {
		reject(d, name, actor, id, "the message is longer than 4 KiB");
		return;
	}
	message[n] = '\0';
	while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == '\r'))
		message[--n] = '\0';
	if (!csod_utf8_valid(message, (size_t)n)) {
		reject(d, name, actor, id, "the message is not UTF-8 text");
		return;
	}

	const csod_admin *admin = csod_config_admin_by_uid(d->cfg, st.st_uid);
	csod_request r;
	int found = csod_request_load(d->db, id, &r);
	char reason[300] = "";
	if (!admin)
		snprintf(reason, sizeof reason, "%s is not an administrator", actor);
	else if (found != 0)
		snprintf(reason, sizeof reason, "no request %s", id);
	else if (strcmp(r.state, "created") != 0)
		snprintf(reason, sizeof reason, "request %s is %s, not waiting for approval", id,
		         r.state);
	else if (strcmp(actor, r.developer) == 0)
		snprintf(reason, sizeof reason, "%s cannot approve their own request", actor);
	else if (recheck && !csod_config_has_checks(d->cfg))
		snprintf(reason, sizeof reason,
		         "no pre-sign checks are configured (checks { } in csod.conf)");
	else if (recheck && strcmp(r.checks, "pending") == 0)
		snprintf(reason, sizeof reason,
		         "the pre-sign checks of request %s are running already", id);
	else if (approve && strcmp(r.checks, "pending") == 0)
		/* Approvers decide on the verdicts: a decline may come at once. */
		snprintf(reason, sizeof reason,
		         "the pre-sign checks of request %s have not finished; approve it once "
		         "they have (csodctl request show %s)",
		         id, id);
	else if (!csod_admin_covers(admin, r.organization, r.department))
		snprintf(reason, sizeof reason, "%s (%s) may not approve requests of %s%s%s", actor,
		         admin->role == CSOD_ROLE_MRAO  ? "MRAO"
		         : admin->role == CSOD_ROLE_RAO ? "RAO"
		                                        : "DRAO",
		         r.organization, r.department[0] ? "/" : "", r.department);
	if (reason[0]) {
		reject(d, name, actor, id, reason);
		csod_request_free(&r);
		return;
	}
	if (!archive(d, name)) {
		csod_request_free(&r);
		return;
	}
	/* What the approver was shown goes on record with their decision. */
	char checks[640] = "", line[600];
	csod_verdicts_line(&r, line, sizeof line);
	if (r.checks[0])
		snprintf(checks, sizeof checks, " [pre-sign checks: %s]", line);
	csod_audit(d->db, actor,
	           approve   ? "request.approve"
	           : recheck ? "request.recheck"
	                     : "request.decline",
	           id, "%s%s", message, checks);
	if (recheck) {
		csod_checks_rerun(d, &r);
	} else if (approve) {
		csod_dispatch_approve(d, &r, actor, message);
	} else {
		snprintf(r.approver, sizeof r.approver, "%s", actor);
		snprintf(r.message, sizeof r.message, "%s", message);
		csod_error err;
		if (csod_request_transition_mail(d, &r, "declined", actor, "declined", &err) < 0) {
			/* Not recorded (a full database): the request keeps its files
			 * and still waits for a decision. */
			csod_log(LOG_ERR, id, "%s; the request still waits for a decision",
			         err.msg);
			csod_request_free(&r);
			return;
		}
		char store[PATH_MAX];
		if (csod_spool_path(d, store, sizeof store, "store/%s", id) == 0)
			csod_rm_rf(store);
	}
	csod_request_free(&r);
}

void csod_approvals_scan(csod_daemon *d)
{
	char buf[4096];
	while (d->approvals_fd >= 0 && read(d->approvals_fd, buf, sizeof buf) > 0) {
		/* Drain: the scan below looks at every marker anyway. */
	}
	char dir[PATH_MAX];
	csod_spool_path(d, dir, sizeof dir, "approvals");
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.')
			process_marker(d, names[i]->d_name);
		free(names[i]);
	}
	free(names);
}
