/* csodctl mail list | retry: the mail queue, for when a server was down. */
#include <stdio.h>
#include <string.h>

#include "../../daemon/audit.h"
#include "ctl.h"

/* root and MRAOs see every message; other admins those about requests of
 * their scope (ctl_may_see). */
#define MAIL_IN_SCOPE                                                                              \
	"EXISTS (SELECT 1 FROM requests r WHERE r.id = m.request_id AND " CTL_VISIBLE(             \
	    "r.developer", "r.organization", "r.department") ")"

static int mail_list(ctl *c, csod_db *db)
{
	csod_stmt *st = csod_db_prepare(
	    db,
	    "SELECT id, state, kind, request_id, recipient, attempts, created, "
	    "COALESCE(last_error, '') FROM mail_queue m WHERE (state != 'sent' OR sent > ?) AND "
	    "(? = 1 OR " MAIL_IN_SCOPE ") ORDER BY id",
	    NULL);
	csod_db_bind_int64(st, 1, csod_now() - 86400);
	csod_db_bind_int(st, 2, ctl_sees_all(c));
	json_t *rows = json_array();
	if (!c->json)
		printf("%-6s %-7s %-16s %-21s %-28s %-8s %s\n", "ID", "STATE", "KIND", "REQUEST",
		       "TO", "ATTEMPTS", "LAST ERROR");
	while (st && csod_db_step(st) == CSOD_DB_ROW) {
		char row[32];
		snprintf(row, sizeof row, "mail %lld", (long long)csod_db_column_int64(st, 0));
		static const char *const fields[4] = {"state", "kind", "request", "to"};
		const char *f[4];
		ctl_columns(c, row, st, 1, fields, 4, f);
		const char *state = f[0], *kind = f[1], *req = f[2], *to = f[3];
		const char *error = ctl_text(c, row, "error", csod_db_text(st, 7));
		if (c->json)
			ctl_append(c, rows,
			           json_pack("{s:I, s:s, s:s, s:o, s:s, s:i, s:o, s:o}", "id",
			                     (json_int_t)csod_db_column_int64(st, 0), "state",
			                     state, "kind", kind, "request", ctl_json_text(req),
			                     "to", to, "attempts", csod_db_column_int(st, 5),
			                     "created", ctl_json_time(csod_db_column_int64(st, 6)),
			                     "error", ctl_json_text(error)),
			           row);
		else
			printf("%-6lld %-7s %-16s %-21s %-28.28s %-8d %s\n",
			       (long long)csod_db_column_int64(st, 0), state, kind,
			       *req ? req : "-", to, csod_db_column_int(st, 5), error);
	}
	csod_db_finalize(st);
	ctl_print_json(c, rows);
	return 0;
}

/* Waiting, dead and failed messages are due again at once; csodd's mailer
 * picks them up at its next look at the database. Their age stays: one
 * older than mail.max_age gets one more attempt, not another max_age. */
static int mail_retry(ctl *c, csod_db *db)
{
	csod_stmt *st = csod_db_prepare(
	    db,
	    "UPDATE mail_queue AS m SET state = 'queued', next_attempt = 0 WHERE "
	    "state IN ('queued', 'dead', 'failed') AND (? = 1 OR " MAIL_IN_SCOPE ")",
	    NULL);
	csod_db_bind_int(st, 1, ctl_sees_all(c));
	int ok = st && csod_db_step(st) == CSOD_DB_DONE;
	csod_db_finalize(st);
	if (!ok)
		return ctl_error("database: %s", csod_db_errmsg(db));
	int n = csod_db_changes(db);
	csod_audit(db, c->user, "mail.retry", NULL, "%d message(s)", n);
	printf("%d message(s) queued again\n", n);
	return 0;
}

int cmd_mail(ctl *c, int argc, char **argv)
{
	if (argc != 1 || (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "retry") != 0))
		return ctl_usage_error("mail", argc ? argv[0] : NULL);
	if (!c->is_root && !c->admin)
		return ctl_error("%s is not an administrator", c->user);
	int retry = strcmp(argv[0], "retry") == 0;
	csod_db *db = ctl_open_db(c, retry);
	if (!db)
		return 1;
	int rc = retry ? mail_retry(c, db) : mail_list(c, db);
	csod_db_close(db);
	return rc;
}
