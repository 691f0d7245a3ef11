/* csodctl report: the seed's Reports tab. Each figure counts what the
 * caller's scope covers. In JSON every figure has a machine name
 * (csodctl(8), JSON OUTPUT); the table keeps the titles people read. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

#define VISIBLE CTL_VISIBLE("developer", "organization", "department")

/* How a section's rows become JSON: a count per state (an object keyed by
 * the state word), a list of {key: name, "requests": n}, one object of two
 * figures, one figure, or the expiring certificates. */
enum shape { PER_STATE, PER_NAME, PAIR, ONE, EXPIRING };

static const struct section {
	const char *key, *title, *name, *sql;
	enum shape shape;
} sections[] = {
    {"requests_per_state", "Requests per state", NULL,
     "SELECT state, COUNT(*) FROM requests WHERE " VISIBLE " GROUP BY state ORDER BY 1", PER_STATE},
    {"requests_per_organization", "Requests per organization", "organization",
     "SELECT organization, COUNT(*) FROM requests WHERE " VISIBLE " GROUP BY 1 ORDER BY 1",
     PER_NAME},
    {"requests_per_developer", "Requests per developer", "developer",
     "SELECT developer, COUNT(*) FROM requests WHERE " VISIBLE " GROUP BY 1 ORDER BY 1", PER_NAME},
    {"signed_last_30_days", "Signed in the last 30 days (files, bytes)", NULL,
     "SELECT COUNT(*), COALESCE(SUM(f.size), 0) FROM files f JOIN requests r ON r.id = "
     "f.request_id WHERE r.signed >= ? - 30 * 86400 AND " CTL_VISIBLE(
         "r.developer", "r.organization", "r.department") "",
     PAIR},
    {"mean_seconds_to_approval", "Mean time to approval (seconds)", NULL,
     "SELECT 'mean', CAST(AVG(approved - created) AS INTEGER) FROM requests WHERE "
     "approved IS NOT NULL AND approver != 'auto-approve' AND " VISIBLE,
     ONE},
    {"certificates_expiring", "Certificates expiring within 30 days", NULL,
     "SELECT developer, organization, expires FROM certificates WHERE is_ca = 0 AND state = "
     "'issued' AND expires < ? + 30 * 86400 AND " VISIBLE,
     EXPIRING},
};

static json_t *count(csod_stmt *st, int col)
{
	return csod_db_column_is_null(st, col)
	           ? json_null()
	           : json_integer((json_int_t)csod_db_column_int64(st, col));
}

/* One row of a section: printed, or added to its JSON value. */
static void row(ctl *c, const struct section *s, csod_stmt *st, json_t *value)
{
	const char *a = ctl_text(c, s->title, "name", csod_db_text(st, 0));
	if (!c->json) {
		char name[600], when[32];
		const char *b = ctl_text(c, s->title, "value", csod_db_text(st, 1));
		if (s->shape == EXPIRING) {
			snprintf(name, sizeof name, "%s (%s)", a, b);
			ctl_time(csod_db_column_int64(st, 2), when);
			a = name;
			b = when;
		}
		printf("  %-40s %s\n", *a ? a : "-", *b ? b : "-");
		return;
	}
	int failed = 0;
	switch (s->shape) {
	case PER_STATE:
		failed = json_object_set_new(value, a, count(st, 1));
		break;
	case PER_NAME:
		failed =
		    json_array_append_new(value, json_pack("{s:o, s:o}", s->name, ctl_json_text(a),
		                                           "requests", count(st, 1)));
		break;
	case PAIR:
		failed = json_object_set_new(value, "files", count(st, 0)) ||
		         json_object_set_new(value, "bytes", count(st, 1));
		break;
	case ONE:
		break; /* the value is the section's own (report_json) */
	case EXPIRING:
		failed = json_array_append_new(
		    value,
		    json_pack(
		        "{s:o, s:o, s:o}", "developer", ctl_json_text(a), "organization",
		        ctl_json_text(ctl_text(c, s->title, "organization", csod_db_text(st, 1))),
		        "expires", ctl_json_time(csod_db_column_int64(st, 2))));
		break;
	}
	if (failed) {
		ctl_error("report: %s: cannot build its JSON", s->key);
		c->output_error = 1;
	}
}

int cmd_report(ctl *c, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return ctl_usage_error("report", NULL);
	if (!c->is_root && !c->admin)
		return ctl_error("%s is not an administrator", c->user);
	csod_db *db = ctl_open_db(c, 0);
	if (!db)
		return 1;
	json_t *report = json_object();
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
		const struct section *s = &sections[i];
		csod_stmt *st = csod_db_prepare(db, s->sql, NULL);
		/* the sections that look at a time window take now */
		if (st && strchr(s->sql, '?'))
			csod_db_bind_int64(st, 1, csod_now());
		json_t *value = s->shape == PER_NAME || s->shape == EXPIRING ? json_array()
		                : s->shape == ONE                            ? json_null()
		                                                             : json_object();
		if (!c->json)
			printf("%s:\n", s->title);
		while (st && csod_db_step(st) == CSOD_DB_ROW) {
			if (s->shape == ONE) {
				json_decref(value);
				value = count(st, 1);
			}
			row(c, s, st, value);
		}
		csod_db_finalize(st);
		json_object_set_new(report, s->key, value);
	}
	ctl_print_json(c, report);
	csod_db_close(db);
	return 0;
}
