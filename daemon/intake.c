/* From a drop in an inbox to a recorded request.
 *
 * Crash safety rests on one ordering:
 *  1. a folder store/incoming/<id>.<developer> is made (its name records
 *     who dropped it);
 *  2. the drop is renamed out of the inbox into it, keeping its name
 *     (atomic); the intake thread makes both durable before anything else;
 *  3. its files are copied and hashed into tmp/<id>.intake, then that folder
 *     is renamed to store/<id> (on an intake thread: intake_job.c);
 *  4. the request is committed to the database;
 *  5. store/incoming/<id>.<developer> is removed.
 * A restart finds what is left in store/incoming and redoes what is missing
 * from step 3 on, so no drop is lost and none is taken twice. The loop
 * thread itself never waits for the disk.
 *
 * A full spool stops nothing for good (space.h): a drop is taken only
 * when the spool has room for its copy beyond the reserve, else it stays
 * in the inbox; an intake that still runs out of space (or cannot be
 * recorded in a full database) keeps its store/incoming copy and is
 * redone by the running daemon once there is room. */
#include "intake.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/fdtree.h"
#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "../lib/text.h"
#include "../signers/signer.h"
#include "audit.h"
#include "checks.h"
#include "developers.h"
#include "dispatch.h"
#include "intake_job.h"
#include "mail.h"
#include "names.h"
#include "notify.h"
#include "space.h"
#include "spool_access.h"
#include "views.h"
#include "workers.h"

/* inbox/<developer>, opened without following a link: whatever is done in
 * it is done relative to this descriptor. -1 with errno. */
static int open_inbox(csod_daemon *d, const char *developer)
{
	char inbox[PATH_MAX];
	if (csod_spool_path(d, inbox, sizeof inbox, "inbox/%s", developer) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(inbox, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* The owner of inbox/<developer>: the developer (or the daemon, for a
 * developer without a Unix account). inbox/ is the daemon's, so the entry
 * cannot be swapped. (uid_t)-1, which owns nothing, when it is missing. */
uid_t csod_inbox_owner(csod_daemon *d, const char *developer)
{
	char inbox[PATH_MAX];
	struct stat st;
	if (csod_spool_path(d, inbox, sizeof inbox, "inbox/%s", developer) < 0 ||
	    lstat(inbox, &st) < 0)
		return (uid_t)-1;
	return st.st_uid;
}

/* store/incoming/<id>.<developer>, removed as its developer could have:
 * a folder of another user they moved in is left whole (and said so). */
void csod_intake_remove_incoming(csod_daemon *d, const char *id, const char *developer, uid_t owner)
{
	char path[PATH_MAX];
	if (csod_spool_path(d, path, sizeof path, "store/incoming/%s%s.%s", id, d->node_tag,
	                    developer) < 0 ||
	    csod_tree_remove_owned(path, owner) == 0)
		return;
	if (errno == EPERM)
		csod_log(LOG_WARNING, id,
		         "%s is left in place: it holds a folder of another user, which %s "
		         "could not have emptied",
		         path, developer);
	else
		csod_log(LOG_ERR, id, "cannot remove %s: %s", path, strerror(errno));
}

/* Step 3's job for drop `id`, already renamed into store/incoming: the
 * request as far as the loop knows it, and copies of the limits. */
static csod_intake_job *make_job(csod_daemon *d, const char *id, const char *developer,
                                 const char *entry, uid_t owner)
{
	csod_intake_job *job = calloc(1, sizeof *job);
	if (!job)
		return NULL;
	csod_request *r = &job->r;
	snprintf(r->id, sizeof r->id, "%s", id);
	snprintf(r->developer, sizeof r->developer, "%s", developer);
	snprintf(r->drop_name, sizeof r->drop_name, "%s", entry);
	job->owner = owner;
	job->rc = csod_drop_name_check(r->drop_name, sizeof r->drop_name, &job->err);
	snprintf(r->state, sizeof r->state, "created");
	r->created = r->updated = csod_now();
	csod_dev_record dev;
	if (csod_developer_lookup(d->db, developer, &dev) == 0) {
		snprintf(r->organization, sizeof r->organization, "%s", dev.organization);
		snprintf(r->department, sizeof r->department, "%s", dev.department);
		snprintf(r->digests, sizeof r->digests, "%s",
		         dev.digests[0] ? dev.digests : "sha256");
		snprintf(r->service, sizeof r->service, "%s", dev.service);
	} else {
		snprintf(r->digests, sizeof r->digests, "sha256");
		job->rc = csod_fail(&job->err, "%s: developer '%s' is not configured", r->drop_name,
		                    developer);
	}
	if (csod_spool_path(d, job->incoming, sizeof job->incoming, "store/incoming/%s%s.%s", id,
	                    d->node_tag, developer) < 0 ||
	    csod_spool_path(d, job->work, sizeof job->work, "%s/%s.intake", d->tmp_rel, id) < 0 ||
	    csod_spool_path(d, job->store, sizeof job->store, "store/%s", id) < 0) {
		/* Nothing may be removed under a cut path. */
		job->incoming[0] = job->work[0] = job->store[0] = '\0';
		job->rc = csod_fail(&job->err, "%s: path too long", r->drop_name);
	}
	snprintf(job->spool, sizeof job->spool, "%s", d->spool);
	job->max_file_size = d->cfg->max_file_size;
	job->max_request_files = d->cfg->max_request_files;
	return job;
}

/* A request is filed under one of its developer's own places (their
 * record; the first unless request.conf picks another): never another,
 * or the requester would pick their approver. request.conf naming only
 * the organization gets the developer's first department there; naming
 * only the department, that department of the default organization. A
 * refused request is filed back where it belongs by default. */
static int check_department(csod_daemon *d, csod_request *r, csod_error *err)
{
	csod_dev_record dev;
	if (csod_developer_lookup(d->db, r->developer, &dev) != 0)
		return csod_fail(err, "developer '%s' is not configured", r->developer);
	if (r->options.place_given == 1)
		for (int i = 0; i < dev.n_places; i++)
			if (strcmp(dev.places[i].organization, r->organization) == 0) {
				snprintf(r->department, sizeof r->department, "%s",
				         dev.places[i].department);
				break;
			}
	if (csod_developer_owns_place(&dev, r->organization, r->department, err) == 0)
		return 0;
	snprintf(r->organization, sizeof r->organization, "%s", dev.organization);
	snprintf(r->department, sizeof r->department, "%s", dev.department);
	return -1;
}

/* An intake that ran out of space waits for room (space.h), keeping its
 * store/incoming copy; one that ran out too often is failed. 1 when it
 * waits. */
static int wait_for_room(csod_daemon *d, csod_intake_job *job, const char *why)
{
	csod_request *r = &job->r;
	int tries = csod_space_wait(d, CSOD_WAIT_INTAKE, r->id, r->developer, r->drop_name, why);
	if (tries < CSOD_SPACE_ATTEMPTS)
		return 1;
	csod_space_done(d, CSOD_WAIT_INTAKE, r->id, r->developer, r->drop_name);
	if (!job->no_space) {
		csod_log(LOG_ERR, r->id,
		         "%s/%s: cannot be recorded (%s); it stays in "
		         "store/incoming until the next start",
		         r->developer, r->drop_name, why);
		return 1;
	}
	char reason[sizeof job->err.msg];
	snprintf(reason, sizeof reason, "%s", why);
	csod_fail(&job->err, "the spool ran out of space %d times while taking it: %s",
	          CSOD_SPACE_ATTEMPTS, reason);
	job->no_space = 0;
	return 0;
}

/* Steps 4 and 5, on the loop thread, once the job has run. */
static void intake_finish(csod_daemon *d, csod_intake_job *job)
{
	csod_request *r = &job->r;
	const char *id = r->id;
	d->intakes_running--;
	csod_space_release(d, job->need);
	if (job->rc < 0 && job->no_space && wait_for_room(d, job, job->err.msg))
		return;
	if (job->rc == 0 && check_department(d, r, &job->err) < 0) {
		job->rc = -1;
		csod_rm_rf(job->store);
	}
	if (job->rc < 0) {
		snprintf(r->state, sizeof r->state, "failed");
		snprintf(r->error, sizeof r->error, "%s", job->err.msg);
	}
	int failed = job->rc < 0;
	/* With pre-sign checks, approvers are asked (or auto-approve signs)
	 * once the verdicts are in (checks.h). */
	int checking = !failed && csod_config_has_checks(d->cfg);
	if (checking)
		snprintf(r->checks, sizeof r->checks, "pending");
	int auto_approve = !failed && !checking && csod_auto_approve_effective(d, r->organization);
	/* The mail that announces the new request goes in with it. */
	csod_notice *mail = failed                     ? csod_notice_build(d, r, "failed")
	                    : auto_approve || checking ? NULL
	                                               : csod_notice_build(d, r, "approval_needed");
	csod_error dberr = {.msg = ""};
	int rc = csod_intake_record(d, r, mail, auto_approve, &dberr);
	if (rc == 0 && csod_notice_count(mail) > 0 && d->mailer)
		csod_mailer_wake(d->mailer);
	csod_notice_free(mail);
	if (rc < 0) {
		/* A full database: keep the incoming copy and redo the intake
		 * once there is room; the store copy is made again then. */
		csod_rm_rf(job->store);
		wait_for_room(d, job, dberr.msg);
		return;
	}
	csod_space_done(d, CSOD_WAIT_INTAKE, id, r->developer, r->drop_name);
	csod_views_mark(d, id);
	/* Claimed for signing before the incoming folder goes: a node that
	 * dies in between leaves the folder, and whoever finishes it
	 * (intake_recover.c) signs the request. */
	if (auto_approve)
		csod_dispatch(d, id);
	csod_intake_remove_incoming(d, id, r->developer, job->owner);
	if (checking)
		csod_checks_submit(d, r);
}

void csod_intake_collect(csod_daemon *d)
{
	csod_intake_job *job;
	while ((job = csod_workers_take_done(d->intake_workers))) {
		intake_finish(d, job);
		csod_intake_job_free(job);
	}
}

/* Hands drop `id` to an intake thread; inline when there is no pool (at
 * start-up recovery, before the loop runs). A refusal (may be NULL) fails
 * it without reading it; need is the room its copy was counted to take. */
void csod_intake_start(csod_daemon *d, const char *id, const char *developer, const char *entry,
                       uid_t owner, int inline_run, const char *refusal, int64_t need)
{
	csod_intake_job *job = make_job(d, id, developer, entry, owner);
	if (!job) {
		csod_log(LOG_ERR, id, "out of memory; the drop stays in store/incoming");
		return;
	}
	d->intakes_running++;
	if (refusal && job->rc == 0)
		job->rc = csod_fail(&job->err, "%s", refusal);
	job->need = job->rc == 0 ? need : 0;
	csod_space_claim(d, job->need);
	if (!inline_run && d->intake_workers) {
		csod_workers_submit(d->intake_workers, job);
		return;
	}
	csod_intake_job_run(job);
	intake_finish(d, job);
	csod_intake_job_free(job);
}

/* An inbox of nobody we know: say so in the outbox of that name, once per
 * change, and leave the files where they are. */
static void report_unknown_inbox(csod_daemon *d, const char *developer, const char *entry)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX], text[512], shown[CSOD_SHOWN_MAX];
	if (!csod_user_name_ok(developer) ||
	    csod_spool_path(d, dir, sizeof dir, "outbox/%s", developer) < 0 ||
	    csod_path(path, sizeof path, "%s/ERROR", dir) < 0 ||
	    csod_spool_path(d, tmp, sizeof tmp, "%s", d->tmp_rel) < 0)
		return;
	/* Closed like every outbox: readable by that user alone, if one exists. */
	if (mkdir(dir, 0700) == 0)
		csod_outbox_restrict(d->spool, developer, NULL);
	else if (errno != EEXIST)
		return;
	snprintf(text, sizeof text,
	         "%s: inbox '%s' belongs to no configured developer; its files were not taken\n",
	         csod_escape_to(entry, shown, sizeof shown), developer);
	csod_write_file_atomic(tmp, path, text, strlen(text), 0644, NULL);
	csod_log(LOG_WARNING, NULL, "%.*s", (int)strlen(text) - 1, text);
}

void csod_intake_check_strays(csod_daemon *d)
{
	char inbox[PATH_MAX];
	csod_spool_path(d, inbox, sizeof inbox, "inbox");
	/* Only when inbox/ itself changed (a folder was added): with thousands
	 * of developers, reading it every scan would be the daemon's idle cost. */
	struct stat top_st;
	if (lstat(inbox, &top_st) < 0 ||
	    (top_st.st_mtim.tv_sec == d->inbox_mtime.tv_sec &&
	     top_st.st_mtim.tv_nsec == d->inbox_mtime.tv_nsec && !d->strays_pending))
		return;
	d->inbox_mtime = top_st.st_mtim;
	d->strays_pending = 0;
	DIR *top = opendir(inbox);
	if (!top)
		return;
	struct dirent *e;
	csod_dev_record dev;
	while ((e = readdir(top))) {
		if (e->d_name[0] == '.' || csod_developer_lookup(d->db, e->d_name, &dev) != 1)
			continue;
		/* Newest entry in the stray inbox against the ERROR we wrote. */
		char dir[PATH_MAX], path[PATH_MAX], first[256] = "";
		csod_spool_path(d, dir, sizeof dir, "inbox/%s", e->d_name);
		DIR *dh = opendir(dir);
		if (!dh)
			continue;
		struct dirent *f;
		struct stat st;
		time_t newest = 0;
		while ((f = readdir(dh))) {
			if (f->d_name[0] == '.')
				continue;
			csod_path(path, sizeof path, "%s/%s", dir, f->d_name);
			if (lstat(path, &st) == 0 && st.st_mtime >= newest) {
				newest = st.st_mtime;
				snprintf(first, sizeof first, "%s", f->d_name);
			}
		}
		closedir(dh);
		if (!first[0])
			continue;
		/* A stray inbox with files: look again at the next scan too, so
		 * that new files there are reported. */
		d->strays_pending = 1;
		csod_spool_path(d, path, sizeof path, "outbox/%s/ERROR", e->d_name);
		if (lstat(path, &st) == 0 && st.st_mtime >= newest)
			continue;
		report_unknown_inbox(d, e->d_name, first);
	}
	closedir(top);
}

/* A folder of the developer is taken over (fdtree.h) before it leaves
 * the inbox: moving a folder to another parent rewrites its "..", which
 * needs write permission on it, and csodd runs without CAP_DAC_OVERRIDE. */
static void take_over_in_inbox(int inbox_fd, const char *entry, const struct stat *seen)
{
	int fd = csod_open_dir_at(inbox_fd, entry);
	struct stat st;
	if (fd < 0)
		return;
	/* Only the folder that was checked: a swapped one stays as it is. */
	if (fstat(fd, &st) == 0 && st.st_dev == seen->st_dev && st.st_ino == seen->st_ino)
		csod_dir_take_over(fd);
	close(fd);
}

/* Renames inbox/<developer>/<entry> to <dir>/<entry>. The rename is made
 * relative to the inbox's own descriptor: the developer owns that folder,
 * and nothing under it is resolved by path. *owner is the inbox's owner.
 * -2 with err: the entry is not the developer's and stays where it is. */
static int move_out_of_inbox(csod_daemon *d, const char *developer, const char *entry,
                             const char *dir, uid_t *owner, csod_error *err)
{
	*owner = (uid_t)-1;
	int inbox_fd = open_inbox(d, developer);
	if (inbox_fd < 0)
		return -1;
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	int rc = inbox_fd < 0 || dir_fd < 0 ? -1 : fstat(inbox_fd, &st);
	if (rc == 0) {
		*owner = st.st_uid;
		rc = fstatat(inbox_fd, entry, &st, AT_SYMLINK_NOFOLLOW);
	}
	if (rc == 0 && csod_drop_owner_check(&st, *owner, entry, developer, err) < 0)
		rc = -2;
	else if (rc == 0 && S_ISDIR(st.st_mode))
		take_over_in_inbox(inbox_fd, entry, &st);
	/* What is renamed may have been swapped since: intake checks it again.
	 * Nodes of a cluster race for the drop here: the first rename wins,
	 * the others find it gone (ENOENT). Over NFS a retransmitted RENAME
	 * can report ENOENT to the winner too: the drop in this node's own
	 * fresh folder says who won. */
	if (rc == 0 && renameat(inbox_fd, entry, dir_fd, entry) < 0)
		rc = errno == ENOENT && fstatat(dir_fd, entry, &st, AT_SYMLINK_NOFOLLOW) == 0 ? 0
		                                                                              : -1;
	int saved = errno;
	if (inbox_fd >= 0)
		close(inbox_fd);
	if (dir_fd >= 0)
		close(dir_fd);
	errno = saved;
	return rc;
}

/* The drop could not be moved out of the inbox (errno e): gone, or a full
 * spool (no inode for store/incoming/...: it waits in the inbox), or an
 * error to log. */
static void not_taken(csod_daemon *d, const char *id, const char *developer, const char *entry,
                      int e)
{
	char why[300];
	snprintf(why, sizeof why, "cannot move it out of the inbox: %s", strerror(e));
	if (e == ENOSPC || e == EDQUOT) {
		csod_space_wait(d, CSOD_WAIT_DROP, NULL, developer, entry, why);
		return;
	}
	csod_space_done(d, CSOD_WAIT_DROP, NULL, developer, entry);
	if (e != ENOENT)
		csod_log(LOG_ERR, id, "cannot take %s/%s: %s", developer, entry, strerror(e));
}

/* Whether the spool has room for copying inbox/<developer>/<entry>
 * (space.h): 1 yes, 0 not now, -1 never (why says so), -2 it is gone.
 * The drop is looked at through the inbox's descriptor only. */
static int drop_room(csod_daemon *d, const char *developer, const char *entry, int64_t *need,
                     char *why, size_t len)
{
	csod_room room;
	int64_t held = 0;
	if (csod_room_read(d, &room) < 0)
		return 1;
	int inbox_fd = open_inbox(d, developer);
	int rc = inbox_fd < 0 ? -1 : csod_drop_size_at(inbox_fd, entry, room.block, need, &held);
	int gone = rc < 0 && errno == ENOENT;
	if (inbox_fd >= 0)
		close(inbox_fd);
	if (gone)
		return -2;
	/* What cannot be looked at is taken, and the intake says why it fails. */
	return rc < 0 ? 1 : csod_room_fits(&room, *need, held, why, len);
}

void csod_intake_drop(csod_daemon *d, const char *developer, const char *entry, int is_dir)
{
	(void)is_dir;
	if (strchr(entry, '/') || strcmp(entry, ".") == 0 || strcmp(entry, "..") == 0)
		return;
	/* A stray READY at the top level finishes nothing; drop it. */
	if (strcmp(entry, "READY") == 0) {
		int fd = open_inbox(d, developer);
		if (fd >= 0) {
			unlinkat(fd, entry, 0);
			close(fd);
		}
		return;
	}
	csod_dev_record dev;
	if (csod_developer_lookup(d->db, developer, &dev) != 0) {
		csod_space_done(d, CSOD_WAIT_DROP, NULL, developer, entry);
		report_unknown_inbox(d, developer, entry);
		return;
	}
	/* Room for its copy first: a drop the spool cannot hold now stays in
	 * the inbox, untouched, and is taken when space returns. */
	char refusal[512];
	int64_t need = 0;
	int room = drop_room(d, developer, entry, &need, refusal, sizeof refusal);
	if (room == 0) {
		csod_space_wait(d, CSOD_WAIT_DROP, NULL, developer, entry, refusal);
		return;
	}
	if (room == -2) {
		csod_space_done(d, CSOD_WAIT_DROP, NULL, developer, entry);
		return;
	}
	/* A node of a cluster reserves the id by making store/<id>, which
	 * fails for an id taken by any node: unique on the shared spool (the
	 * intake's copy replaces the empty folder). One csodd only looks. */
	char id[32], dir[PATH_MAX], reserved[PATH_MAX] = "";
	struct stat st;
	for (int tries = 0;; tries++) {
		csod_request_new_id(id);
		if (csod_spool_path(d, dir, sizeof dir, "store/%s", id) < 0)
			return;
		if (d->cfg->node ? mkdir(dir, 0700) < 0 : lstat(dir, &st) == 0) {
			if (d->cfg->node && (errno != EEXIST || tries >= 1000)) {
				not_taken(d, id, developer, entry, errno);
				return;
			}
			continue;
		}
		reserved[0] = '\0';
		if (d->cfg->node)
			snprintf(reserved, sizeof reserved, "%s", dir);
		if (csod_spool_path(d, dir, sizeof dir, "store/incoming/%s%s.%s", id, d->node_tag,
		                    developer) < 0) {
			if (reserved[0])
				rmdir(reserved);
			return;
		}
		if (mkdir(dir, 0700) == 0)
			break;
		int e = errno;
		if (reserved[0])
			rmdir(reserved);
		/* EEXIST: another drop of this second, still being taken, drew the
		 * same id (a burst takes hundreds a second): draw again. */
		if (e != EEXIST || tries >= 1000) {
			not_taken(d, id, developer, entry, e);
			return;
		}
	}
	uid_t owner;
	csod_error refused;
	int moved = move_out_of_inbox(d, developer, entry, dir, &owner, &refused);
	if (moved == -1) {
		int e = errno;
		rmdir(dir);
		if (reserved[0])
			rmdir(reserved);
		not_taken(d, id, developer, entry, e);
		return;
	}
	csod_space_done(d, CSOD_WAIT_DROP, NULL, developer, entry);
	/* Refused (not the developer's: it stays in the inbox), or too big for
	 * the spool: the request fails with the reason. */
	char reason[sizeof refused.msg + 300];
	if (moved == -2)
		snprintf(reason, sizeof reason, "%s", refused.msg);
	else if (room < 0)
		snprintf(reason, sizeof reason, "%s: %s", entry, refusal);
	csod_intake_start(d, id, developer, entry, owner, 0,
	                  moved == -2 || room < 0 ? reason : NULL, need);
}

void csod_intake_resume(csod_daemon *d, const char *id, const char *developer, const char *entry)
{
	char dir[PATH_MAX], refusal[512];
	csod_room room;
	int64_t need = 0, held = 0;
	if (csod_spool_path(d, dir, sizeof dir, "store/incoming/%s%s.%s", id, d->node_tag,
	                    developer) < 0 ||
	    csod_room_read(d, &room) < 0)
		return;
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int sized = dir_fd < 0 ? -1 : csod_drop_size_at(dir_fd, entry, room.block, &need, &held);
	int gone = sized < 0 && errno == ENOENT;
	if (dir_fd >= 0)
		close(dir_fd);
	if (gone) {
		/* Gone (an operator cleared it): nothing is left to take. */
		csod_space_done(d, CSOD_WAIT_INTAKE, id, developer, entry);
		return;
	}
	int fits = csod_room_fits(&room, need, held, refusal, sizeof refusal);
	if (fits == 0)
		return;
	csod_space_trying(d, CSOD_WAIT_INTAKE, id, developer, entry);
	csod_log(LOG_NOTICE, id, "%s/%s: taking it again", developer, entry);
	char reason[sizeof refusal + 300];
	snprintf(reason, sizeof reason, "%s: %s", entry, refusal);
	csod_intake_start(d, id, developer, entry, csod_inbox_owner(d, developer), 0,
	                  fits < 0 ? reason : NULL, need);
}

int csod_auto_approve_effective(csod_daemon *d, const char *organization)
{
	char key[300], value[16];
	snprintf(key, sizeof key, "auto_approve:%s", organization ? organization : "");
	if (organization && csod_db_setting_get(d->db, key, value, sizeof value) == 0)
		return strcmp(value, "on") == 0;
	const csod_organization *org =
	    organization ? csod_config_organization(d->cfg, organization) : NULL;
	if (org && org->auto_approve >= 0)
		return org->auto_approve;
	if (csod_db_setting_get(d->db, "auto_approve", value, sizeof value) == 0)
		return strcmp(value, "on") == 0;
	return d->cfg->auto_approve;
}
