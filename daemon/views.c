#include "views.h"

#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "request.h"

void csod_views_mark(csod_daemon *d, const char *id)
{
	for (int i = 0; i < d->n_views; i++)
		if (strcmp(d->views[i], id) == 0)
			return;
	if (d->n_views == d->cap_views) {
		int cap = d->cap_views ? 2 * d->cap_views : 64;
		char(*grown)[32] = realloc(d->views, sizeof *grown * (size_t)cap);
		if (!grown) {
			csod_log(LOG_ERR, id,
			         "out of memory; the outbox is updated at the next start");
			return;
		}
		d->views = grown;
		d->cap_views = cap;
	}
	snprintf(d->views[d->n_views++], sizeof d->views[0], "%s", id);
}

static void publish_one(csod_daemon *d, const char *id, sqlite3_stmt *done)
{
	csod_request r;
	if (csod_request_load(d->db, id, &r) != 0) {
		csod_request_free(&r);
		return;
	}
	csod_error err;
	int ok = 1;
	if (csod_request_publish_status(d, &r, &err) < 0) {
		csod_log(LOG_ERR, id, "cannot update the outbox: %s", err.msg);
		ok = 0;
	}
	if (csod_request_publish_details(d, &r, &err) < 0) {
		csod_log(LOG_ERR, id, "cannot update details.json: %s", err.msg);
		ok = 0;
	}
	if (ok && done) {
		sqlite3_bind_text(done, 1, r.state, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(done, 2, id, -1, SQLITE_TRANSIENT);
		sqlite3_step(done);
		sqlite3_reset(done);
	}
	csod_request_free(&r);
}

void csod_views_flush(csod_daemon *d)
{
	if (d->n_views == 0)
		return;
	sqlite3_stmt *done =
	    csod_db_prepare(d->db, "UPDATE requests SET published = ? WHERE id = ?", NULL);
	int in_tx = csod_db_begin(d->db) == 0;
	for (int i = 0; i < d->n_views; i++)
		publish_one(d, d->views[i], done);
	sqlite3_finalize(done);
	if (in_tx && csod_db_commit(d->db) < 0)
		csod_db_rollback(d->db);
	d->n_views = 0;
}

void csod_views_recover(csod_daemon *d)
{
	sqlite3_stmt *st = csod_db_prepare(
	    d->db, "SELECT id FROM requests WHERE published IS NOT state ORDER BY id", NULL);
	while (st && sqlite3_step(st) == SQLITE_ROW)
		csod_views_mark(d, csod_db_text(st, 0));
	sqlite3_finalize(st);
	if (d->n_views)
		csod_log(LOG_NOTICE, NULL, "rewriting the outbox views of %d request(s)",
		         d->n_views);
	csod_views_flush(d);
}

void csod_views_free(csod_daemon *d)
{
	free(d->views);
	d->views = NULL;
	d->n_views = d->cap_views = 0;
}
