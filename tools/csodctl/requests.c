/* csodctl request ...: the seed's Requests tab and Details dialog, and
 * approvals written as marker files (the same path as a hand-made marker). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../daemon/audit.h"
#include "../../daemon/developers.h"
#include "../../daemon/mail.h"
#include "../../daemon/notify.h"
#include "../../daemon/request.h"
#include "../../daemon/states.h"
#include "../../lib/fsutil.h"
#include "../../lib/text.h"
#include "ctl.h"
#include "../../daemon/request_paths.h"

/* Requests are for admins and developers; anyone else is told so at once
 * (1 after saying it), not shown an empty list. */
static int stranger(ctl *c, csod_db *db)
{
	csod_dev_record d;
	if (c->is_root || c->admin || csod_developer_lookup(db, c->user, &d) == 0)
		return 0;
	return ctl_error("%s is not an administrator or developer of csod", c->user);
}

/* A request as request show --json and each row of request list --json
 * give it: the outbox's request.json (csod_request_json), one schema. A
 * value that is not UTF-8 is shown escaped, named, and the exit status 1. */
static json_t *request_object(ctl *c, const csod_request *r)
{
	static csod_daemon d; /* what csod_request_json reads of it */
	d.cfg = c->cfg;
	snprintf(d.spool, sizeof d.spool, "%s", c->spool);
	csod_error note = {.msg = ""};
	char *text = csod_request_json(&d, r, &note);
	json_t *value = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	if (!value || note.msg[0]) {
		ctl_error("%s: %s", r->id, value ? note.msg : "cannot build its JSON");
		c->output_error = 1;
	}
	return value;
}

/* The rows of a listing as request objects; st's first column is the id. */
static json_t *request_objects(ctl *c, csod_db *db, csod_stmt *st)
{
	json_t *rows = json_array();
	while (csod_db_step(st) == CSOD_DB_ROW) {
		csod_request r;
		const char *id = csod_db_text(st, 0);
		if (csod_request_load(db, id, &r) != 0) {
			ctl_error("%s: cannot load it", ctl_text(c, NULL, "id", id));
			c->output_error = 1;
			continue;
		}
		ctl_append(c, rows, request_object(c, &r), r.id);
		csod_request_free(&r);
	}
	return rows;
}

static int request_list(ctl *c, int argc, char **argv)
{
	static const struct option options[] = {
	    {"state", required_argument, NULL, 's'},
	    {"developer", required_argument, NULL, 'd'},
	    {"organization", required_argument, NULL, 'o'},
	    {"since", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	const char *state = NULL, *developer = NULL, *organization = NULL;
	int64_t since = 0;
	int opt;
	optind = 0; /* 0, not 1: glibc then also resets its internal state */
	while ((opt = getopt_long(argc, argv, "s:d:o:t:", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			state = optarg;
			if (!csod_state_known(state)) {
				ctl_error("--state: no state \"%s\" (states: " CTL_STATES ")",
				          ctl_text(c, NULL, "state", state));
				return 2;
			}
			break;
		case 'd':
			developer = optarg;
			break;
		case 'o':
			organization = optarg;
			break;
		case 't':
			since = ctl_parse_since(optarg);
			if (since < 0) {
				ctl_error("--since: expected a date, a date and time or an age "
				          "like 3d, got \"%s\"",
				          ctl_text(c, NULL, "since", optarg));
				return 2;
			}
			break;
		default:
			return ctl_usage_error("request", "list");
		}
	}
	if (optind != argc)
		return ctl_usage_error("request", "list");
	csod_db *db = ctl_open_db(c, 0);
	if (!db)
		return 1;
	if (stranger(c, db)) {
		csod_db_close(db);
		return 1;
	}
	/* Only what the caller's scope covers (ctl_may_see). */
	csod_stmt *st = csod_db_prepare(
	    db,
	    "SELECT id, developer, organization, department, version, digests, service, "
	    "created, state, checks FROM requests WHERE (CAST(? AS TEXT) IS NULL OR state = ?) "
	    "AND (CAST(? AS TEXT) IS NULL OR developer = ?) AND (CAST(? AS TEXT) IS NULL OR "
	    "organization = ?) AND created >= ? "
	    "AND " CTL_VISIBLE("developer", "organization", "department") " ORDER BY created, id",
	    NULL);
	const char *filters[] = {state, developer, organization};
	for (int i = 0; i < 3; i++) {
		csod_db_bind_text(st, 2 * i + 1, filters[i]);
		csod_db_bind_text(st, 2 * i + 2, filters[i]);
	}
	csod_db_bind_int64(st, 7, since);
	if (c->json) {
		ctl_print_json(c, request_objects(c, db, st));
		csod_db_finalize(st);
		csod_db_close(db);
		return 0;
	}
	/* CHECKS: the pre-sign checks' summary (pending, pass, fail, hold),
	 * "-" when none were configured at intake; request show has each. */
	printf("%-21s %-12s %-24s %-16s %-10s %-14s %-12s %-16s %-11s %s\n", "ID", "DEVELOPER",
	       "ORGANIZATION", "DEPARTMENT", "VERSION", "DIGESTS", "SERVICE", "CREATED", "STATE",
	       "CHECKS");
	static const char *const fields[10] = {"id",      "developer", "organization", "department",
	                                       "version", "digests",   "service",      "created",
	                                       "state",   "checks"};
	while (csod_db_step(st) == CSOD_DB_ROW) {
		const char *f[10];
		ctl_columns(c, csod_db_text(st, 0), st, 0, fields, 10, f);
		char created[32];
		ctl_time(csod_db_column_int64(st, 7), created);
		printf("%-21s %-12s %-24.24s %-16.16s %-10.10s %-14s %-12s %-16s %-11s %s\n", f[0],
		       f[1], f[2], f[3][0] ? f[3] : "-", f[4][0] ? f[4] : "-", f[5],
		       f[6][0] ? f[6] : "auto", created, f[8], f[9][0] ? f[9] : "-");
	}
	csod_db_finalize(st);
	csod_db_close(db);
	return 0;
}

/* A request out of the caller's scope is not there, as far as they can
 * tell: the same answer as for an unknown id. */
static int load_visible(ctl *c, csod_db *db, const char *id, csod_request *r)
{
	if (stranger(c, db))
		return -1;
	int found = csod_request_load(db, id, r);
	if (found != 0 || !ctl_may_see(c, r->developer, r->organization, r->department)) {
		csod_request_free(r);
		ctl_error("no request %s", id);
		return -1;
	}
	return 0;
}

/* What the signing recorded about timestamps (audit request.timestamp):
 * which authority answered each file, which failed and why, a file signed
 * without one. */
static void show_timestamps(ctl *c, csod_db *db, const char *id)
{
	csod_stmt *st = csod_db_prepare(db,
	                                "SELECT detail FROM audit WHERE action = "
	                                "'request.timestamp' AND object = ? ORDER BY id",
	                                NULL);
	if (!st)
		return;
	csod_db_bind_text(st, 1, id);
	for (int n = 0; csod_db_step(st) == CSOD_DB_ROW; n++) {
		const char *detail = csod_db_text(st, 0);
		printf("%s  %s\n", n ? "" : "Timestamps:\n",
		       ctl_text(c, id, "timestamp", detail ? detail : ""));
	}
	csod_db_finalize(st);
}

/* The pre-sign checks' verdicts (checks.h), one line each. */
static void print_checks(ctl *c, const csod_request *r)
{
	if (!r->checks[0])
		return;
	printf("Checks:       %s\n", r->checks);
	for (int i = 0; i < r->n_verdicts; i++) {
		char at[32];
		ctl_time(r->verdicts[i].at, at);
		printf("  %-7s %-6s %s (%s)\n", r->verdicts[i].check, r->verdicts[i].verdict,
		       ctl_text(c, r->id, "reason", r->verdicts[i].reason), at);
	}
}

static int request_show(ctl *c, const char *id)
{
	csod_db *db = ctl_open_db(c, 0);
	if (!db)
		return 1;
	csod_request r;
	if (load_visible(c, db, id, &r) < 0) {
		csod_db_close(db);
		return 1;
	}
	if (c->json) {
		ctl_print_json(c, request_object(c, &r));
	} else {
		char created[32], approved[32], signed_at[32], expires[32];
		ctl_time(r.created, created);
		ctl_time(r.approved, approved);
		ctl_time(r.signed_at, signed_at);
		ctl_time(r.expires, expires);
#define SHOWN(field) ctl_text(c, r.id, #field, r.field)
		printf("Request:      %s\nDeveloper:    %s\nOrganization: %s\nDepartment:   %s\n"
		       "Version:      %s\nDigests:      %s\nService:      %s\nCreated:      %s\n"
		       "State:        %s\n",
		       r.id, SHOWN(developer), SHOWN(organization),
		       r.department[0] ? SHOWN(department) : "-",
		       r.version[0] ? SHOWN(version) : "-", SHOWN(digests),
		       r.service[0] ? SHOWN(service) : "by file type", created, r.state);
		if (r.approver[0])
			printf("Approver:     %s (%s)\n", SHOWN(approver), approved);
		if (r.message[0])
			printf("Message:      %s\n", SHOWN(message));
		if (r.error[0])
			printf("Error:        %s\n", SHOWN(error));
#undef SHOWN
		if (r.signed_at)
			printf("Signed:       %s\nExpires:      %s\n", signed_at, expires);
		print_checks(c, &r);
		printf("Files:\n");
		for (int i = 0; i < r.n_files; i++)
			printf(
			    "  %s (%lld bytes)\n    MD5     %s\n    SHA-1   %s\n    SHA-256 %s\n",
			    ctl_text(c, r.id, "name", r.files[i].name), (long long)r.files[i].size,
			    r.files[i].md5, r.files[i].sha1, r.files[i].sha256);
		show_timestamps(c, db, r.id);
	}
	csod_request_free(&r);
	csod_db_close(db);
	return 0;
}

/* Is path the inode `marker` (the one this command wrote), renamed? */
static int same_inode(const char *path, const struct stat *marker)
{
	struct stat st;
	return lstat(path, &st) == 0 && st.st_dev == marker->st_dev && st.st_ino == marker->st_ino;
}

/* The reason csodd wrote for a rejected marker, escaped; NULL unless the
 * file is a regular file of approvals/'s owner (csodd): approvals/ is
 * world-writable, so anyone could have left a "reason" there. */
static char *daemon_reason(ctl *c, const char *name)
{
	char dir[PATH_MAX + 16], path[PATH_MAX + 64], raw[4097];
	snprintf(dir, sizeof dir, "%s/approvals", c->spool);
	snprintf(path, sizeof path, "%s/%s.reason", dir, name);
	struct stat dir_st, st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	ssize_t n = -1;
	if (stat(dir, &dir_st) == 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_uid == dir_st.st_uid)
		n = read(fd, raw, sizeof raw - 1);
	close(fd);
	if (n < 0)
		return NULL;
	while (n > 0 && raw[n - 1] == '\n')
		n--;
	raw[n] = '\0';
	return csod_escape(raw);
}

/* Is the inode `marker` in approvals/done/ as name or name.<time> (a
 * resend of the same name)? */
static int archived(ctl *c, const char *name, const struct stat *marker)
{
	char done[PATH_MAX + 16], path[PATH_MAX + 300];
	snprintf(done, sizeof done, "%s/approvals/done", c->spool);
	DIR *dh = opendir(done);
	struct dirent *e;
	int found = 0;
	size_t n = strlen(name);
	while (dh && !found && (e = readdir(dh)))
		if (strncmp(e->d_name, name, n) == 0 && (!e->d_name[n] || e->d_name[n] == '.') &&
		    snprintf(path, sizeof path, "%s/%s", done, e->d_name) < (int)sizeof path)
			found = same_inode(path, marker);
	if (dh)
		closedir(dh);
	return found;
}

/* Waits for csodd to take the marker (the inode `marker`): archived in
 * approvals/done/, or renamed .rejected with the reason beside it. Only
 * that inode counts: a file left under those names by someone else says
 * nothing about this marker. */
static int await_marker(ctl *c, const char *name, const struct stat *marker)
{
	char path[PATH_MAX + 64], rejected[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/approvals/%s", c->spool, name);
	snprintf(rejected, sizeof rejected, "%s/approvals/%s.rejected", c->spool, name);
	for (int i = 0; i < 200; i++) {
		if (same_inode(rejected, marker)) {
			char *reason = daemon_reason(c, name);
			ctl_error("%s was rejected: %s", name, reason ? reason : "(no reason)");
			free(reason);
			return 1;
		}
		if (!same_inode(path, marker) && archived(c, name, marker)) {
			printf("%s: taken by csodd\n", name);
			return 0;
		}
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
	}
	printf("%s: written; csodd has not taken it yet (is it running?)\n", name);
	return 0;
}

static int request_decide(ctl *c, const char *verb, int argc, char **argv)
{
	static const struct option options[] = {
	    {"message", required_argument, NULL, 'm'},
	    {"no-wait", no_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	const char *message = "";
	int wait = 1, opt;
	optind = 0; /* 0, not 1: glibc then also resets its internal state */
	while ((opt = getopt_long(argc, argv, "m:", options, NULL)) != -1) {
		if (opt == 'm')
			message = optarg;
		else if (opt == 'n')
			wait = 0;
		else
			return ctl_usage_error("request", verb);
	}
	if (optind != argc - 1)
		return ctl_usage_error("request", verb);
	const char *id = argv[optind];
	if (strlen(message) > CSOD_MESSAGE_MAX)
		return ctl_error("the message is longer than %d bytes", CSOD_MESSAGE_MAX);
	csod_db *db = ctl_open_db(c, 1);
	if (!db)
		return 1;
	csod_request r;
	int found = csod_request_load(db, id, &r);
	int rc = 0;
	char action[32];
	snprintf(action, sizeof action, "%s requests", verb);
	/* The checks csodd makes of the marker, made first so that the caller
	 * hears at once (and someone out of scope learns nothing of the
	 * request's state). */
	if (!c->is_root && !c->admin)
		rc = ctl_error("%s is not an administrator", c->user);
	else if (found != 0)
		rc = ctl_error("no request %s", id);
	else if (!ctl_may_see(c, r.developer, r.organization, r.department)) {
		csod_audit(db, c->user, "csodctl.refused", id, "%s: not in their scope", action);
		rc = ctl_error("%s may not %s request %s: it is not in their scope", c->user, verb,
		               id);
	} else if (strcmp(r.state, "created") != 0)
		rc = ctl_error("request %s is %s, not waiting for approval", id, r.state);
	else if (!c->is_root && strcmp(c->user, r.developer) == 0)
		rc = ctl_error("%s cannot %s their own request", c->user,
		               strcmp(verb, "recheck") == 0 ? "recheck" : "approve");
	else if (strcmp(verb, "recheck") == 0 && !csod_config_has_checks(c->cfg))
		rc = ctl_error("no pre-sign checks are configured (checks { } in csod.conf)");
	else if (strcmp(verb, "recheck") == 0 && strcmp(r.checks, "pending") == 0)
		rc = ctl_error("the pre-sign checks of request %s are running already", id);
	else if (strcmp(verb, "approve") == 0 && strcmp(r.checks, "pending") == 0)
		rc = ctl_error("the pre-sign checks of request %s have not finished; approve it "
		               "once they have (csodctl request show %s)",
		               id, id);
	csod_request_free(&r);
	csod_db_close(db);
	if (rc)
		return rc;
	/* Written under a dot name, then renamed: csodd never reads half a
	 * marker. The file's owner is the approver: the caller, also when
	 * csodd's csodctl writes it for them (it may give files away). */
	char tmp[PATH_MAX + 64], dest[PATH_MAX + 64], name[64];
	if (csod_path(name, sizeof name, "%s.%s", id, verb) < 0 ||
	    csod_path(tmp, sizeof tmp, "%s/approvals/.%s.%d", c->spool, name, (int)getpid()) < 0 ||
	    csod_path(dest, sizeof dest, "%s/approvals/%s", c->spool, name) < 0)
		return ctl_error("%s: name too long for a marker", id);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	size_t len = strlen(message);
	struct stat marker;
	if (fd < 0 || write(fd, message, len) != (ssize_t)len ||
	    (c->uid != getuid() && fchown(fd, c->uid, (gid_t)-1) < 0) || fsync(fd) < 0 ||
	    fstat(fd, &marker) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return ctl_error("cannot write %s as %s: %s", tmp, c->user, strerror(e));
	}
	close(fd);
	if (rename(tmp, dest) < 0) {
		unlink(tmp);
		return ctl_error("cannot write %s: %s", dest, strerror(errno));
	}
	return wait ? await_marker(c, name, &marker) : (printf("%s written\n", dest), 0);
}

int ctl_download_args(int argc, char **argv, ctl_download *dl)
{
	static const struct option options[] = {
	    {"submitted", no_argument, NULL, 's'},
	    {"to", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	const char *out = NULL, *to = NULL;
	int opt, bad = 0;
	memset(dl, 0, sizeof *dl);
	optind = 0; /* 0, not 1: glibc then also resets its internal state */
	while ((opt = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
		if (opt == 'o')
			out = optarg;
		else if (opt == 's')
			dl->submitted = 1;
		else if (opt == 't')
			to = optarg;
		else
			bad = 1;
	}
	/* "ID FILE [-o PATH]" or "ID --submitted [--to DIR]", not a mix. */
	int want = dl->submitted ? 1 : 2;
	if (bad || argc - optind != want || (dl->submitted && out) || (!dl->submitted && to)) {
		ctl_usage_error("request", "download");
		return -1;
	}
	dl->id = argv[optind];
	dl->file = dl->submitted ? NULL : argv[optind + 1];
	dl->dest = dl->submitted ? (to ? to : ".") : out ? out : dl->file;
	return 0;
}

static int request_download(ctl *c, int argc, char **argv)
{
	ctl_download dl;
	if (ctl_download_args(argc, argv, &dl) < 0)
		return 2;
	if (dl.submitted) {
		/* Writable: the examination is audited. */
		csod_db *db = ctl_open_db(c, 1);
		int rc = db ? ctl_download_submitted(c, db, &dl) : 1;
		csod_db_close(db);
		return rc;
	}
	const char *id = dl.id, *file = dl.file, *dest = dl.dest;
	if (strchr(file, '/') || file[0] == '.')
		return ctl_error("%s: not a file name", file);
	csod_db *db = ctl_open_db(c, 0);
	if (!db)
		return 1;
	csod_request r;
	if (load_visible(c, db, id, &r) < 0) {
		csod_db_close(db);
		return 1;
	}
	char src[PATH_MAX + 300], dir[PATH_MAX];
	int too_long = csod_request_outbox(c->spool, &r, dir, sizeof dir) < 0 ||
	               csod_path(src, sizeof src, "%s/%s", dir, file) < 0;
	csod_request_free(&r);
	csod_db_close(db);
	if (too_long)
		return ctl_error("%s: path too long", file);
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	int rc = in < 0 ? ctl_error("%s: %s", src, strerror(errno))
	         : fstat(in, &st) < 0 || !S_ISREG(st.st_mode)
	             ? ctl_error("%s: not a regular file", src)
	             : ctl_deliver(c, in, dest);
	if (in >= 0)
		close(in);
	return rc;
}

static int request_resend(ctl *c, const char *id)
{
	csod_db *db = ctl_open_db(c, 1);
	if (!db)
		return 1;
	csod_request r;
	int rc = 0;
	if (csod_request_load(db, id, &r) != 0)
		rc = ctl_error("no request %s", id);
	else if (ctl_require_admin(c, db, "resend notices", r.organization, r.department) < 0)
		rc = 1;
	else if (strcmp(r.state, "signed") != 0)
		rc = ctl_error("request %s is %s; only signed requests have a notice", id, r.state);
	/* The daemon's own notice, from the same templates (the
	 * organization's, else the global ones), recognisably the same text. */
	csod_notice *notice =
	    rc == 0 ? csod_notice_build_with(c->cfg, c->spool, db, &r, "signed") : NULL;
	csod_error err;
	if (rc == 0 && csod_notice_count(notice) == 0)
		rc = ctl_error("no notice to send for %s: mail is off, or developer %s has no "
		               "email address",
		               id, r.developer);
	else if (rc == 0 && csod_notice_queue(db, notice, &err) < 0)
		rc = ctl_error("%s", err.msg);
	else if (rc == 0) {
		csod_dev_record dev;
		const char *to = csod_developer_lookup(db, r.developer, &dev) == 0 ? dev.email : "";
		csod_audit(db, c->user, "request.resend", r.id, "to %s", to);
		printf("signed notice for %s queued to %s\n", r.id, ctl_text(c, NULL, "email", to));
	}
	csod_notice_free(notice);
	csod_request_free(&r);
	csod_db_close(db);
	return rc;
}

int cmd_request(ctl *c, int argc, char **argv)
{
	if (argc < 1)
		return ctl_usage_error("request", NULL);
	const char *verb = argv[0];
	if (strcmp(verb, "list") == 0)
		return request_list(c, argc, argv);
	if (strcmp(verb, "show") == 0 && argc == 2)
		return request_show(c, argv[1]);
	if (strcmp(verb, "approve") == 0 || strcmp(verb, "decline") == 0 ||
	    strcmp(verb, "recheck") == 0)
		return request_decide(c, verb, argc, argv);
	if (strcmp(verb, "download") == 0)
		return request_download(c, argc, argv);
	if (strcmp(verb, "resend") == 0 && argc == 2)
		return request_resend(c, argv[1]);
	return ctl_usage_error("request", verb);
}
