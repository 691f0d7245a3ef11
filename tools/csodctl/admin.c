/* csodctl audit, auto-approve, developer, report. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/audit.h"
#include "../../daemon/developers.h"
#include "../../daemon/mail.h"
#include "ctl.h"

int cmd_audit(ctl *c, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "verify") == 0) {
		csod_db *db = ctl_open_db(c, 0);
		if (!db)
			return 1;
		long rows = 0;
		csod_error err;
		int rc = csod_audit_verify(db, &rows, &err);
		csod_db_close(db);
		if (rc < 0)
			return ctl_error("audit log damaged: %s", err.msg);
		printf("audit log intact: %ld entries\n", rows);
		return 0;
	}
	if (argc < 1 || strcmp(argv[0], "list") != 0)
		return ctl_error("usage: csodctl audit list [--since T] | audit verify");
	int64_t since = 0;
	if (argc == 3 && strcmp(argv[1], "--since") == 0 && (since = ctl_parse_since(argv[2])) < 0)
		return ctl_error("--since: expected a date or an age like 3d, got \"%s\"", argv[2]);
	if (!c->is_root && !c->admin)
		return ctl_error("%s is not an administrator", c->user);
	csod_db *db = ctl_open_db(c, 0);
	if (!db)
		return 1;
	sqlite3_stmt *st = csod_db_prepare(
	    db,
	    "SELECT id, time, actor, action, object, detail FROM audit WHERE time >= ? ORDER BY id",
	    NULL);
	sqlite3_bind_int64(st, 1, since);
	json_t *rows = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *obj = csod_db_text(st, 4), *detail = csod_db_text(st, 5);
		if (c->json) {
			json_array_append_new(
			    rows,
			    json_pack("{s:I, s:I, s:s, s:s, s:s, s:s}", "id",
			              (json_int_t)sqlite3_column_int64(st, 0), "time",
			              (json_int_t)sqlite3_column_int64(st, 1), "actor",
			              csod_db_text(st, 2), "action", csod_db_text(st, 3), "object",
			              obj ? obj : "", "detail", detail ? detail : ""));
		} else {
			char when[32];
			ctl_time(sqlite3_column_int64(st, 1), when);
			printf("%6lld %s %-12s %-22s %s %s\n",
			       (long long)sqlite3_column_int64(st, 0), when, csod_db_text(st, 2),
			       csod_db_text(st, 3), obj ? obj : "-", detail ? detail : "");
		}
	}
	sqlite3_finalize(st);
	ctl_print_json(c, rows);
	csod_db_close(db);
	return 0;
}

static const char *effective(csod_db *db, const csod_config *cfg, const char *org)
{
	char key[300], value[16];
	if (org) {
		snprintf(key, sizeof key, "auto_approve:%s", org);
		if (csod_db_setting_get(db, key, value, sizeof value) == 0)
			return strcmp(value, "on") == 0 ? "on" : "off";
		const csod_organization *o = csod_config_organization(cfg, org);
		if (o && o->auto_approve >= 0)
			return o->auto_approve ? "on" : "off";
	}
	if (csod_db_setting_get(db, "auto_approve", value, sizeof value) == 0)
		return strcmp(value, "on") == 0 ? "on" : "off";
	return cfg->auto_approve ? "on" : "off";
}

int cmd_auto_approve(ctl *c, int argc, char **argv)
{
	const char *org = NULL;
	if (argc == 3 && strcmp(argv[1], "--organization") == 0)
		org = argv[2];
	else if (argc != 1)
		return ctl_error("usage: csodctl auto-approve on|off|status [--organization O]");
	if (org && !csod_config_organization(c->cfg, org))
		return ctl_error("no organization \"%s\" in the configuration", org);
	int status = strcmp(argv[0], "status") == 0;
	if (!status && strcmp(argv[0], "on") != 0 && strcmp(argv[0], "off") != 0)
		return ctl_error("usage: csodctl auto-approve on|off|status [--organization O]");
	/* A non-admin cannot even open the database for writing: refuse first. */
	if (!status && !c->is_root && !c->admin)
		return ctl_require_admin(c, NULL, "change auto-approve", org, NULL) < 0 ? 1 : 0;
	csod_db *db = ctl_open_db(c, !status);
	if (!db)
		return 1;
	int rc = 0;
	if (status) {
		printf("global: %s\n", effective(db, c->cfg, NULL));
		for (int i = 0; i < c->cfg->n_organizations; i++)
			printf("%s: %s\n", c->cfg->organizations[i].name,
			       effective(db, c->cfg, c->cfg->organizations[i].name));
	} else if (ctl_require_admin(c, db, "change auto-approve", org, NULL) < 0) {
		rc = 1;
	} else {
		char key[300];
		snprintf(key, sizeof key, org ? "auto_approve:%s" : "auto_approve", org);
		csod_error err;
		if (csod_db_setting_set(db, key, argv[0], &err) < 0) {
			rc = ctl_error("%s", err.msg);
		} else {
			csod_audit(db, c->user, "settings.auto_approve", org ? org : "global", "%s",
			           argv[0]);
			printf("auto-approve %s for %s\n", argv[0],
			       org ? org : "all organizations");
		}
	}
	csod_db_close(db);
	return rc;
}

static void print_developer(void *ctx, const csod_dev_record *d)
{
	json_t *rows = ctx;
	if (rows)
		json_array_append_new(rows,
		                      json_pack("{s:s, s:s, s:s, s:s, s:s}", "user", d->user,
		                                "email", d->email, "name", d->name, "organization",
		                                d->organization, "department", d->department));
	else
		printf("%-16s %-32s %-24s %-28s %s\n", d->user, d->email, d->name, d->organization,
		       d->department[0] ? d->department : "-");
}

static int developer_add(ctl *c, csod_db *db, int argc, char **argv)
{
	static const struct option options[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"user", required_argument, NULL, 'u'},
	    {"organization", required_argument, NULL, 'o'},
	    {"department", required_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	const char *name = "", *user = NULL, *org = NULL, *dept = NULL;
	int opt;
	optind = 0; /* 0, not 1: glibc then also resets its internal state */
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'n':
			name = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'o':
			org = optarg;
			break;
		case 'd':
			dept = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1 || !user || !org)
		return ctl_error("usage: csodctl developer add EMAIL --name N --user U "
		                 "--organization O [--department D]");
	const char *email = argv[optind];
	const csod_organization *o = csod_config_organization(c->cfg, org);
	if (!strchr(email, '@'))
		return ctl_error("%s is not an email address", email);
	if (!csod_user_name_ok(user))
		return ctl_error("%s is not a usable user name (letters, digits, . _ -)", user);
	if (!o)
		return ctl_error("no organization \"%s\" in the configuration", org);
	int dept_ok = !dept;
	for (int i = 0; dept && o->departments && o->departments[i]; i++)
		dept_ok |= strcmp(o->departments[i], dept) == 0;
	if (!dept_ok)
		return ctl_error("\"%s\" is not a department of %s", dept, org);
	if (ctl_require_admin(c, db, "add developers", org, dept) < 0)
		return 1;
	sqlite3_stmt *st = csod_db_prepare(
	    db,
	    "INSERT INTO developers(user, email, name, organization, department, created) "
	    "VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(user) DO UPDATE SET email = excluded.email, "
	    "name = excluded.name, organization = excluded.organization, department = "
	    "excluded.department, removed = NULL",
	    NULL);
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, email, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, org, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, dept, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, csod_now());
	int ok = st && sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	if (!ok)
		return ctl_error("database: %s", sqlite3_errmsg(db->sql));
	csod_error err;
	if (csod_developer_make_dirs(c->spool, user, &err) < 0)
		return ctl_error("%s", err.msg);
	char inbox[PATH_MAX + 80], outbox[PATH_MAX + 80], *subject = NULL, *body = NULL;
	snprintf(inbox, sizeof inbox, "%s/inbox/%s", c->spool, user);
	snprintf(outbox, sizeof outbox, "%s/outbox/%s", c->spool, user);
	const char *vars[] = {"name", name[0] ? name : user, "inbox", inbox, "outbox", outbox,
	                      NULL};
	if (csod_mail_render(NULL, "welcome", vars, &subject, &body, &err) == 0)
		csod_mail_enqueue(db, "welcome", NULL, email, subject, body, &err);
	free(subject);
	free(body);
	csod_audit(db, c->user, "developer.add", user, "%s, %s%s%s", email, org, dept ? "/" : "",
	           dept ? dept : "");
	printf("developer %s added: inbox %s\n", user, inbox);
	return 0;
}

int cmd_developer(ctl *c, int argc, char **argv)
{
	if (argc < 1)
		return ctl_error("usage: csodctl developer list|add|remove");
	int writing = strcmp(argv[0], "list") != 0;
	csod_db *db = ctl_open_db(c, writing);
	if (!db)
		return 1;
	int rc = 0;
	if (strcmp(argv[0], "list") == 0) {
		json_t *rows = c->json ? json_array() : NULL;
		if (!c->json)
			printf("%-16s %-32s %-24s %-28s %s\n", "USER", "EMAIL", "NAME",
			       "ORGANIZATION", "DEPARTMENT");
		csod_developers_each(db, print_developer, rows);
		if (rows)
			ctl_print_json(c, rows);
	} else if (strcmp(argv[0], "add") == 0) {
		rc = developer_add(c, db, argc, argv);
	} else if (strcmp(argv[0], "remove") == 0 && argc == 2) {
		csod_dev_record d;
		if (csod_developer_lookup(db, argv[1], &d) != 0) {
			rc = ctl_error("no developer %s", argv[1]);
		} else if (ctl_require_admin(c, db, "remove developers", d.organization,
		                             d.department) < 0) {
			rc = 1;
		} else {
			sqlite3_stmt *st = csod_db_prepare(
			    db, "UPDATE developers SET removed = ? WHERE user = ?", NULL);
			sqlite3_bind_int64(st, 1, csod_now());
			sqlite3_bind_text(st, 2, argv[1], -1, SQLITE_STATIC);
			sqlite3_step(st);
			sqlite3_finalize(st);
			csod_audit(db, c->user, "developer.remove", argv[1], "%s", d.email);
			printf("developer %s removed\n", argv[1]);
		}
	} else {
		rc = ctl_error("usage: csodctl developer list|add|remove USER");
	}
	csod_db_close(db);
	return rc;
}

int cmd_report(ctl *c, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return ctl_error("usage: csodctl report");
	if (!c->is_root && !c->admin)
		return ctl_error("%s is not an administrator", c->user);
	csod_db *db = ctl_open_db(c, 0);
	if (!db)
		return 1;
	static const struct {
		const char *title, *sql;
	} sections[] = {
	    {"Requests per state",
	     "SELECT state, COUNT(*) FROM requests GROUP BY state ORDER BY 1"},
	    {"Requests per organization",
	     "SELECT COALESCE(organization, '-'), COUNT(*) FROM requests GROUP BY 1 ORDER BY 1"},
	    {"Requests per developer",
	     "SELECT developer, COUNT(*) FROM requests GROUP BY 1 ORDER BY 1"},
	    {"Signed in the last 30 days (files, bytes)",
	     "SELECT COUNT(*), COALESCE(SUM(f.size), 0) FROM files f JOIN requests r ON r.id = "
	     "f.request_id WHERE r.signed >= strftime('%s', 'now') - 30 * 86400"},
	    {"Mean time to approval (seconds)",
	     "SELECT 'mean', CAST(AVG(approved - created) AS INTEGER) FROM requests WHERE "
	     "approved IS NOT NULL AND approver != 'auto-approve'"},
	    {"Certificates expiring within 30 days",
	     "SELECT developer || ' (' || organization || ')', datetime(expires, 'unixepoch') FROM "
	     "certificates WHERE is_ca = 0 AND state = 'issued' AND expires < strftime('%s', "
	     "'now') + 30 * 86400"},
	};
	json_t *report = json_object();
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
		sqlite3_stmt *st = csod_db_prepare(db, sections[i].sql, NULL);
		json_t *rows = json_array();
		if (!c->json)
			printf("%s:\n", sections[i].title);
		while (st && sqlite3_step(st) == SQLITE_ROW) {
			const char *a = csod_db_text(st, 0), *b = csod_db_text(st, 1);
			if (!c->json)
				printf("  %-40s %s\n", a ? a : "-", b ? b : "-");
			json_array_append_new(rows, json_pack("[s, s]", a ? a : "", b ? b : ""));
		}
		sqlite3_finalize(st);
		json_object_set_new(report, sections[i].title, rows);
	}
	ctl_print_json(c, report);
	csod_db_close(db);
	return 0;
}
