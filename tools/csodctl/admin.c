/* csodctl audit, auto-approve. */
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
		return ctl_usage_error("audit", NULL);
	int64_t since = 0;
	if (argc == 3 && strcmp(argv[1], "--since") == 0) {
		if ((since = ctl_parse_since(argv[2])) < 0) {
			ctl_error("--since: expected a date or an age like 3d, got \"%s\"",
			          ctl_text(c, NULL, "since", argv[2]));
			return 2;
		}
	} else if (argc != 1) {
		return ctl_usage_error("audit", "list");
	}
	if (!c->is_root && !c->admin)
		return ctl_error("%s is not an administrator", c->user);
	csod_db *db = ctl_open_db(c, 0);
	if (!db)
		return 1;
	/* root and MRAOs see it all; other admins what they did and what
	 * concerns the requests, developers and certificates of their scope. */
	csod_stmt *st = csod_db_prepare(
	    db,
	    "SELECT id, time, actor, action, object, detail FROM audit a WHERE time >= ? AND "
	    "(? = 1 OR actor = ? OR EXISTS (SELECT 1 FROM requests r WHERE r.id = a.object "
	    "AND " CTL_VISIBLE(
	        "r.developer", "r.organization",
	        "r.department") ") OR EXISTS (SELECT 1 FROM "
	                        "developers d WHERE d.\"user\" = a.object AND " CTL_VISIBLE(
	                            "d.\"user\"", "d.organization",
	                            "d.department") ") OR (a.action LIKE 'cert.%' AND EXISTS "
	                                            "(SELECT 1 FROM certificates c "
	                                            "WHERE CAST(c.id AS TEXT) = a.object "
	                                            "AND " CTL_VISIBLE(
	                                                "c.developer", "c.organization",
	                                                "c.department") "))) ORDER BY id",
	    NULL);
	csod_db_bind_int64(st, 1, since);
	csod_db_bind_int(st, 2, ctl_sees_all(c));
	csod_db_bind_text(st, 3, c->user);
	json_t *rows = json_array();
	while (csod_db_step(st) == CSOD_DB_ROW) {
		char row[32];
		snprintf(row, sizeof row, "audit %lld", (long long)csod_db_column_int64(st, 0));
		static const char *const fields[4] = {"actor", "action", "object", "detail"};
		const char *f[4];
		ctl_columns(c, row, st, 2, fields, 4, f);
		const char *actor = f[0], *action = f[1], *obj = f[2], *detail = f[3];
		if (c->json) {
			ctl_append(c, rows,
			           json_pack("{s:I, s:o, s:s, s:s, s:o, s:o}", "id",
			                     (json_int_t)csod_db_column_int64(st, 0), "time",
			                     ctl_json_time(csod_db_column_int64(st, 1)), "actor",
			                     actor, "action", action, "object", ctl_json_text(obj),
			                     "detail", ctl_json_text(detail)),
			           row);
		} else {
			char when[32];
			ctl_time(csod_db_column_int64(st, 1), when);
			printf("%6lld %s %-12s %-22s %s %s\n",
			       (long long)csod_db_column_int64(st, 0), when, actor, action,
			       *obj ? obj : "-", detail);
		}
	}
	csod_db_finalize(st);
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
		return ctl_usage_error("auto-approve", NULL);
	if (org && !csod_config_organization(c->cfg, org))
		return ctl_error("no organization \"%s\" in the configuration", org);
	int status = strcmp(argv[0], "status") == 0;
	if (!status && strcmp(argv[0], "on") != 0 && strcmp(argv[0], "off") != 0)
		return ctl_usage_error("auto-approve", NULL);
	/* A non-admin cannot even open the database for writing: refuse first. */
	if (!status && !c->is_root && !c->admin)
		return ctl_require_admin(c, NULL, "change auto-approve", org, NULL) < 0 ? 1 : 0;
	if (!c->is_root && !c->admin)
		return ctl_error("%s is not an administrator", c->user);
	csod_db *db = ctl_open_db(c, !status);
	if (!db)
		return 1;
	int rc = 0;
	if (status) {
		/* Organizations apart: one may be named "global". */
		json_t *orgs = json_object();
		const char *global = effective(db, c->cfg, NULL);
		if (!c->json)
			printf("global: %s\n", global);
		for (int i = 0; i < c->cfg->n_organizations; i++) {
			const char *name = c->cfg->organizations[i].name;
			const char *shown = ctl_text(c, "auto-approve", "organization", name);
			const char *value = effective(db, c->cfg, name);
			if (!c->json)
				printf("%s: %s\n", shown, value);
			else if (json_object_set_new(orgs, shown, json_string(value)) < 0) {
				ctl_error("%s: cannot build its JSON", shown);
				c->output_error = 1;
			}
		}
		if (c->json)
			ctl_print_json(
			    c, json_pack("{s:s, s:o}", "global", global, "organizations", orgs));
		else
			json_decref(orgs);
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
