/* csodctl request ...: the seed's Requests tab and Details dialog, and
 * approvals written as marker files (the same path as a hand-made marker). */
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
#include "../../daemon/mail.h"
#include "../../daemon/request.h"
#include "../../lib/fsutil.h"
#include "ctl.h"

/* A caller who is no admin sees their own requests only. */
static int may_see(const ctl *c, const char *developer)
{
	return c->is_root || c->admin || strcmp(c->user, developer) == 0;
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
			break;
		case 'd':
			developer = optarg;
			break;
		case 'o':
			organization = optarg;
			break;
		case 't':
			since = ctl_parse_since(optarg);
			if (since < 0)
				return ctl_error("--since: expected a date, a date and time or an "
				                 "age like 3d, got \"%s\"",
				                 optarg);
			break;
		default:
			return 2;
		}
	}
	csod_db *db = ctl_open_db(c, 0);
	if (!db)
		return 1;
	sqlite3_stmt *st = csod_db_prepare(
	    db,
	    "SELECT id, developer, organization, department, version, digests, service, "
	    "created, state FROM requests WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR "
	    "developer = ?2) AND (?3 IS NULL OR organization = ?3) AND created >= ?4 ORDER BY "
	    "created, id",
	    NULL);
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, developer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, organization, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, since);
	json_t *rows = json_array();
	if (!c->json)
		printf("%-21s %-12s %-24s %-16s %-10s %-14s %-12s %-16s %s\n", "ID", "DEVELOPER",
		       "ORGANIZATION", "DEPARTMENT", "VERSION", "DIGESTS", "SERVICE", "CREATED",
		       "STATE");
	static const char *const fields[9] = {"id",         "developer", "organization",
	                                      "department", "version",   "digests",
	                                      "service",    "created",   "state"};
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *f[9];
		if (!may_see(c, csod_db_text(st, 1) ? csod_db_text(st, 1) : ""))
			continue;
		ctl_columns(c, csod_db_text(st, 0), st, 0, fields, 9, f);
		char created[32];
		ctl_time(sqlite3_column_int64(st, 7), created);
		if (c->json)
			ctl_append(
			    c, rows,
			    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "id", f[0],
			              "developer", f[1], "organization", f[2], "department", f[3],
			              "version", f[4], "digests", f[5], "service", f[6], "created",
			              (json_int_t)sqlite3_column_int64(st, 7), "state", f[8]),
			    f[0]);
		else
			printf("%-21s %-12s %-24.24s %-16.16s %-10.10s %-14s %-12s %-16s %s\n",
			       f[0], f[1], f[2], f[3][0] ? f[3] : "-", f[4][0] ? f[4] : "-", f[5],
			       f[6][0] ? f[6] : "auto", created, f[8]);
	}
	sqlite3_finalize(st);
	ctl_print_json(c, rows);
	csod_db_close(db);
	return 0;
}

static int load_visible(ctl *c, csod_db *db, const char *id, csod_request *r)
{
	int found = csod_request_load(db, id, r);
	if (found != 0 || !may_see(c, r->developer)) {
		csod_request_free(r);
		return ctl_error("no request %s", id) ? -1 : -1;
	}
	return 0;
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
		csod_daemon d;
		memset(&d, 0, sizeof d);
		snprintf(d.spool, sizeof d.spool, "%s", c->spool);
		csod_error note = {.msg = ""};
		char *text = csod_request_json(&d, &r, &note);
		if (!text || note.msg[0]) {
			ctl_error("%s: %s", r.id, text ? note.msg : "cannot build its JSON");
			c->output_error = 1;
		}
		puts(text ? text : "{}");
		free(text);
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
		printf("Files:\n");
		for (int i = 0; i < r.n_files; i++)
			printf(
			    "  %s (%lld bytes)\n    MD5     %s\n    SHA-1   %s\n    SHA-256 %s\n",
			    ctl_text(c, r.id, "name", r.files[i].name), (long long)r.files[i].size,
			    r.files[i].md5, r.files[i].sha1, r.files[i].sha256);
	}
	csod_request_free(&r);
	csod_db_close(db);
	return 0;
}

/* Waits for csodd to take the marker: archived in approvals/done/, or
 * renamed .rejected with the reason beside it. */
static int await_marker(ctl *c, const char *name)
{
	char path[PATH_MAX + 64], done[PATH_MAX + 64], rejected[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/approvals/%s", c->spool, name);
	snprintf(done, sizeof done, "%s/approvals/done/%s", c->spool, name);
	snprintf(rejected, sizeof rejected, "%s/approvals/%s.rejected", c->spool, name);
	for (int i = 0; i < 200; i++) {
		if (access(rejected, F_OK) == 0) {
			char reason_path[PATH_MAX + 64], *reason = NULL;
			snprintf(reason_path, sizeof reason_path, "%s/approvals/%s.reason",
			         c->spool, name);
			csod_read_file(reason_path, 4096, &reason, NULL, NULL);
			ctl_error("%s was rejected: %s", name, reason ? reason : "(no reason)");
			free(reason);
			return 1;
		}
		if (access(path, F_OK) != 0 && access(done, F_OK) == 0) {
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
			return 2;
	}
	if (optind != argc - 1)
		return ctl_error("usage: csodctl request %s ID [-m MESSAGE] [--no-wait]", verb);
	const char *id = argv[optind];
	if (strlen(message) > CSOD_MESSAGE_MAX)
		return ctl_error("the message is longer than %d bytes", CSOD_MESSAGE_MAX);
	csod_db *db = ctl_open_db(c, 0);
	if (!db)
		return 1;
	csod_request r;
	int found = csod_request_load(db, id, &r);
	int rc = 0;
	if (found != 0)
		rc = ctl_error("no request %s", id);
	else if (strcmp(r.state, "created") != 0)
		rc = ctl_error("request %s is %s, not waiting for approval", id, r.state);
	else if (!c->is_root && !c->admin)
		rc = ctl_error("%s is not an administrator", c->user);
	csod_request_free(&r);
	csod_db_close(db);
	if (rc)
		return rc;
	/* Written under a dot name, then renamed: csodd never reads half a
	 * marker. The file's owner (this user) is the approver. */
	char tmp[PATH_MAX + 64], dest[PATH_MAX + 64], name[64];
	if (csod_path(name, sizeof name, "%s.%s", id,
	              strcmp(verb, "approve") == 0 ? "approve" : "decline") < 0 ||
	    csod_path(tmp, sizeof tmp, "%s/approvals/.%s.%d", c->spool, name, (int)getpid()) < 0 ||
	    csod_path(dest, sizeof dest, "%s/approvals/%s", c->spool, name) < 0)
		return ctl_error("%s: name too long for a marker", id);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	size_t len = strlen(message);
	if (fd < 0 || write(fd, message, len) != (ssize_t)len || fsync(fd) < 0) {
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return ctl_error("cannot write %s: %s", tmp, strerror(errno));
	}
	close(fd);
	if (rename(tmp, dest) < 0) {
		unlink(tmp);
		return ctl_error("cannot write %s: %s", dest, strerror(errno));
	}
	return wait ? await_marker(c, name) : (printf("%s written\n", dest), 0);
}

static int request_download(ctl *c, int argc, char **argv)
{
	const char *out = NULL;
	int opt;
	optind = 0; /* 0, not 1: glibc then also resets its internal state */
	while ((opt = getopt(argc, argv, "o:")) != -1) {
		if (opt != 'o')
			return 2;
		out = optarg;
	}
	if (argc - optind != 2)
		return ctl_error("usage: csodctl request download ID FILE [-o PATH]");
	const char *id = argv[optind], *file = argv[optind + 1];
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
	char src[PATH_MAX + 300];
	int too_long =
	    csod_path(src, sizeof src, "%s/outbox/%s/%s/%s", c->spool, r.developer, r.id, file) < 0;
	csod_request_free(&r);
	csod_db_close(db);
	if (too_long)
		return ctl_error("%s: path too long", file);
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return ctl_error("%s: %s", src, strerror(errno));
	int o = open(out ? out : file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	csod_error err;
	int rc = o < 0 ? ctl_error("%s: %s", out ? out : file, strerror(errno))
	               : (csod_copy_fd(in, o, &err) < 0 ? ctl_error("%s", err.msg) : 0);
	if (o >= 0)
		close(o);
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
	if (rc == 0) {
		sqlite3_stmt *st =
		    csod_db_prepare(db, "SELECT email FROM developers WHERE user = ?", NULL);
		sqlite3_bind_text(st, 1, r.developer, -1, SQLITE_STATIC);
		char email[256] = "";
		if (st && sqlite3_step(st) == SQLITE_ROW)
			snprintf(email, sizeof email, "%s", csod_db_text(st, 0));
		sqlite3_finalize(st);
		char subject[128], body[1024], expires[32], outbox[PATH_MAX + 100];
		ctl_time(r.expires, expires);
		snprintf(outbox, sizeof outbox, "%s/outbox/%s/%s", c->spool, r.developer, r.id);
		snprintf(subject, sizeof subject, "csod: request %s is signed", r.id);
		snprintf(
		    body, sizeof body,
		    "Your files are signed and wait in %s until %s UTC.\n(Notice sent again by "
		    "%s.)\n",
		    outbox, expires, c->user);
		csod_error err;
		if (!email[0])
			rc = ctl_error("developer %s has no email address", r.developer);
		else if (csod_mail_enqueue(db, "signed", r.id, email, subject, body, &err) < 0)
			rc = ctl_error("%s", err.msg);
		else {
			csod_audit(db, c->user, "request.resend", r.id, "to %s", email);
			printf("signed notice for %s queued to %s\n", r.id, email);
		}
	}
	csod_request_free(&r);
	csod_db_close(db);
	return rc;
}

int cmd_request(ctl *c, int argc, char **argv)
{
	if (argc < 1)
		return ctl_error(
		    "usage: csodctl request list|show|approve|decline|download|resend");
	const char *verb = argv[0];
	if (strcmp(verb, "list") == 0)
		return request_list(c, argc, argv);
	if (strcmp(verb, "show") == 0 && argc == 2)
		return request_show(c, argv[1]);
	if (strcmp(verb, "approve") == 0 || strcmp(verb, "decline") == 0)
		return request_decide(c, verb, argc, argv);
	if (strcmp(verb, "download") == 0)
		return request_download(c, argc, argv);
	if (strcmp(verb, "resend") == 0 && argc == 2)
		return request_resend(c, argv[1]);
	return ctl_error("usage: csodctl request list|show ID|approve ID|decline ID|download ID "
	                 "FILE|resend ID");
}
