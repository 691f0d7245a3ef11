/* csodctl node list: the nodes of a cluster sharing this database (one
 * row for a single csodd), each with its last heartbeat, whether its
 * lease still runs (alive) or ran out (dead: what it held is taken over),
 * and what it holds: requests it signs, messages it sends, intakes. */
#include <stdio.h>
#include <string.h>

#include "../../daemon/request.h"
#include "ctl.h"

static int node_list(ctl *c, csod_db *db)
{
	csod_stmt *st = csod_db_prepare(
	    db,
	    "SELECT n.name, COALESCE(n.host, ''), n.pid, n.started, n.heartbeat, n.lease_until,"
	    " n.intakes, CASE WHEN n.stopped IS NULL THEN 0 ELSE 1 END,"
	    " (SELECT COUNT(*) FROM requests r WHERE r.claimed_by = n.name"
	    "  AND r.state IN ('approved', 'in_progress')),"
	    " (SELECT COUNT(*) FROM mail_queue m WHERE m.claimed_by = n.name"
	    "  AND m.state = 'queued')"
	    " FROM nodes n ORDER BY n.name",
	    NULL);
	if (!st)
		return ctl_error("database: %s", csod_db_errmsg(db));
	json_t *rows = json_array();
	int64_t now = csod_now();
	if (!c->json)
		printf("%-16s %-16s %-8s %-20s %-8s %-8s %-7s %s\n", "NODE", "HOST", "PID",
		       "HEARTBEAT", "STATE", "SIGNING", "MAIL", "INTAKES");
	while (csod_db_step(st) == CSOD_DB_ROW) {
		const char *name = ctl_text(c, "node", "name", csod_db_text(st, 0));
		const char *host = ctl_text(c, name, "host", csod_db_text(st, 1));
		int64_t heartbeat = csod_db_column_int64(st, 4);
		int alive = csod_db_column_int64(st, 5) >= now;
		const char *state = alive                       ? "alive"
		                    : csod_db_column_int(st, 7) ? "stopped"
		                                                : "dead";
		int signing = csod_db_column_int(st, 8), mail = csod_db_column_int(st, 9);
		int intakes = alive ? csod_db_column_int(st, 6) : 0;
		char when[32];
		csod_iso_time(heartbeat, when);
		if (c->json)
			ctl_append(c, rows,
			           json_pack("{s:s, s:s, s:i, s:o, s:o, s:s, s:i, s:i, s:i}",
			                     "node", name, "host", host, "pid",
			                     csod_db_column_int(st, 2), "started",
			                     ctl_json_time(csod_db_column_int64(st, 3)),
			                     "heartbeat", ctl_json_time(heartbeat), "state", state,
			                     "signing", signing, "mail", mail, "intakes", intakes),
			           name);
		else
			printf("%-16s %-16.16s %-8d %-20s %-8s %-8d %-7d %d\n", name, host,
			       csod_db_column_int(st, 2), when, state, signing, mail, intakes);
	}
	csod_db_finalize(st);
	ctl_print_json(c, rows);
	return 0;
}

int cmd_node(ctl *c, int argc, char **argv)
{
	if (argc != 1 || strcmp(argv[0], "list") != 0)
		return ctl_usage_error("node", argc ? argv[0] : NULL);
	if (!c->is_root && !c->admin)
		return ctl_error("%s is not an administrator", c->user);
	csod_db *db = ctl_open_db(c, 0);
	if (!db)
		return 1;
	int rc = node_list(c, db);
	csod_db_close(db);
	return rc;
}
