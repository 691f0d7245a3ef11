/* Nodes, heartbeats, leases and claims (cluster.h). Every claim is one
 * conditional UPDATE that names the row and the condition under which it
 * may be taken (free, ours, or its lease run out) and then counts the rows
 * it changed: SQLite runs it under its write lock, PostgreSQL locks the row
 * and re-checks the WHERE after a concurrent writer commits, so on both
 * exactly one node sees 1. */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/log.h"
#include "dispatch.h"
#include "intake.h"
#include "views.h"

/* Runs sql about this node: its parameters are, in order, the end of a
 * lease from now (when lease) and the node's name. */
static void for_node(csod_daemon *d, const char *sql, int lease)
{
	csod_stmt *st = csod_db_prepare(d->db, sql, NULL);
	if (!st)
		return;
	int i = 1;
	if (lease)
		csod_db_bind_int64(st, i++, csod_now() + d->cfg->node_lease_s);
	csod_db_bind_text(st, i, d->node);
	if (csod_db_step(st) != CSOD_DB_DONE)
		csod_log(LOG_ERR, NULL, "node %s: %s", d->node, csod_db_errmsg(d->db));
	csod_db_finalize(st);
}

int csod_cluster_join(csod_daemon *d, csod_error *err)
{
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	csod_stmt *st = csod_db_prepare(
	    d->db,
	    "INSERT INTO nodes(name, host, pid, started, heartbeat, lease_until, intakes, stopped)"
	    " VALUES(?, ?, ?, ?, ?, ?, 0, NULL) ON CONFLICT(name) DO UPDATE SET"
	    " host = excluded.host, pid = excluded.pid, started = excluded.started,"
	    " heartbeat = excluded.heartbeat, lease_until = excluded.lease_until, intakes = 0,"
	    " stopped = NULL, recovered = NULL",
	    err);
	if (!st)
		return -1;
	int64_t now = csod_now();
	csod_db_bind_text(st, 1, d->node);
	csod_db_bind_text(st, 2, host);
	csod_db_bind_int(st, 3, (int)getpid());
	csod_db_bind_int64(st, 4, now);
	csod_db_bind_int64(st, 5, now);
	csod_db_bind_int64(st, 6, now + d->cfg->node_lease_s);
	int rc = csod_db_step(st) == CSOD_DB_DONE
	             ? 0
	             : csod_fail(err, "database: cannot record node %s: %s", d->node,
	                         csod_db_errmsg(d->db));
	csod_db_finalize(st);
	return rc;
}

void csod_cluster_leave(csod_daemon *d)
{
	/* Claims of requests still being signed end with the node: another
	 * node signs them again without waiting for the lease. */
	for_node(d,
	         "UPDATE requests SET lease_until = 0 WHERE claimed_by = ?"
	         " AND state IN ('approved', 'in_progress')",
	         0);
	for_node(d, "UPDATE mail_queue SET claimed_by = NULL WHERE claimed_by = ?", 0);
	for_node(
	    d, "UPDATE nodes SET lease_until = 0, intakes = 0, stopped = heartbeat WHERE name = ?",
	    0);
}

int csod_cluster_node_gone(csod_daemon *d, const char *node)
{
	if (strcmp(node, d->node) == 0)
		return 0;
	csod_stmt *st =
	    csod_db_prepare(d->db, "SELECT lease_until FROM nodes WHERE name = ?", NULL);
	if (!st)
		return 0; /* not known to be gone: leave its work alone */
	csod_db_bind_text(st, 1, node);
	int rc = csod_db_step(st);
	int gone =
	    rc == CSOD_DB_DONE || (rc == CSOD_DB_ROW && csod_db_column_int64(st, 0) < csod_now());
	csod_db_finalize(st);
	return gone;
}

int csod_cluster_claim_request(csod_daemon *d, const char *id)
{
	csod_stmt *st =
	    csod_db_cached(d->db,
	                   "UPDATE requests SET claimed_by = ?, lease_until = ? WHERE id = ?"
	                   " AND state IN ('approved', 'in_progress')"
	                   " AND (claimed_by IS NULL OR claimed_by = ? OR lease_until < ?)",
	                   NULL);
	if (!st)
		return -1;
	int64_t now = csod_now();
	csod_db_bind_text(st, 1, d->node);
	csod_db_bind_int64(st, 2, now + d->cfg->node_lease_s);
	csod_db_bind_text(st, 3, id);
	csod_db_bind_text(st, 4, d->node);
	csod_db_bind_int64(st, 5, now);
	int rc = csod_db_step(st) == CSOD_DB_DONE ? csod_db_changes(d->db) == 1 : -1;
	csod_db_release(st);
	return rc;
}

static void take_over_request(void *ctx, const char *id)
{
	csod_log(LOG_NOTICE, id, "taking over the signing of a node whose lease ran out");
	csod_dispatch(ctx, id);
}

/* Requests whose signing node's lease ran out. */
static void take_over_requests(csod_daemon *d)
{
	csod_stmt *st = csod_db_prepare(
	    d->db,
	    "SELECT id FROM requests WHERE state IN ('approved', 'in_progress')"
	    " AND claimed_by IS NOT NULL AND claimed_by <> ? AND lease_until < ? ORDER BY id",
	    NULL);
	if (!st)
		return;
	csod_db_bind_text(st, 1, d->node);
	csod_db_bind_int64(st, 2, csod_now());
	/* Collected first: taking one over writes to the database. */
	char(*ids)[32] = NULL;
	int n = 0;
	while (csod_db_step(st) == CSOD_DB_ROW) {
		char(*grown)[32] = realloc(ids, sizeof *ids * (size_t)(n + 1));
		if (!grown)
			break;
		ids = grown;
		snprintf(ids[n++], 32, "%s", csod_db_text(st, 0));
	}
	csod_db_finalize(st);
	for (int i = 0; i < n; i++)
		take_over_request(d, ids[i]);
	free(ids);
}

/* A node that died may have changed requests whose outbox views it had
 * not written yet (they are written at the end of a loop turn, views.h):
 * once per death, the first node to see it rewrites every view behind the
 * database. */
static void recover_views_of_dead(csod_daemon *d)
{
	csod_stmt *st = csod_db_prepare(d->db,
	                                "UPDATE nodes SET recovered = ? WHERE name <> ? AND "
	                                "lease_until < ? AND recovered IS NULL",
	                                NULL);
	if (!st)
		return;
	int64_t now = csod_now();
	csod_db_bind_int64(st, 1, now);
	csod_db_bind_text(st, 2, d->node);
	csod_db_bind_int64(st, 3, now);
	int found = csod_db_step(st) == CSOD_DB_DONE && csod_db_changes(d->db) > 0;
	csod_db_finalize(st);
	if (found)
		csod_views_retry(d);
}

int64_t csod_cluster_tick(csod_daemon *d, int64_t now_ms)
{
	int64_t every = d->cfg->node_lease_s * 1000 / 3;
	if (now_ms < d->next_heartbeat_ms)
		return d->next_heartbeat_ms - now_ms;
	d->next_heartbeat_ms = now_ms + every;
	/* The node's own lease, then its claims', to the same end: a claim
	 * never runs out while its node lives. */
	csod_stmt *st = csod_db_prepare(
	    d->db, "UPDATE nodes SET heartbeat = ?, lease_until = ?, intakes = ? WHERE name = ?",
	    NULL);
	if (st) {
		int64_t now = csod_now();
		csod_db_bind_int64(st, 1, now);
		csod_db_bind_int64(st, 2, now + d->cfg->node_lease_s);
		csod_db_bind_int(st, 3, d->intakes_running);
		csod_db_bind_text(st, 4, d->node);
		if (csod_db_step(st) != CSOD_DB_DONE)
			csod_log(LOG_ERR, NULL, "node %s: heartbeat not recorded: %s", d->node,
			         csod_db_errmsg(d->db));
		csod_db_finalize(st);
	}
	for_node(d,
	         "UPDATE requests SET lease_until = ? WHERE claimed_by = ?"
	         " AND state IN ('approved', 'in_progress')",
	         1);
	for_node(d,
	         "UPDATE mail_queue SET lease_until = ? WHERE claimed_by = ? AND state = 'queued'",
	         1);
	recover_views_of_dead(d);
	csod_intake_take_over(d);
	take_over_requests(d);
	return every;
}

int csod_cluster_lock(csod_db *db)
{
	return csod_db_is_postgresql(db)
	           ? csod_db_exec(db, "SELECT pg_advisory_xact_lock(7366308)", NULL)
	           : 0;
}
