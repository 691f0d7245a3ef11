#include "retention.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "outputs.h"
#include "request.h"
#include "request_paths.h"

static void expire(void *ctx, const char *id)
{
	csod_daemon *d = ctx;
	csod_request r;
	if (csod_request_load(d->db, id, &r) != 0 || strcmp(r.state, "signed") != 0 ||
	    r.expires > csod_now()) {
		csod_request_free(&r);
		return;
	}
	char dir[PATH_MAX], path[PATH_MAX];
	if (csod_request_outbox(d->spool, &r, dir, sizeof dir) < 0)
		dir[0] = '\0';
	char name[256];
	for (int i = 0; i < r.n_files && dir[0]; i++) {
		const char *pos = r.files[i].output;
		while (csod_outputs_next(&pos, name, sizeof name))
			if (csod_path(path, sizeof path, "%s/%s", dir, name) == 0)
				unlink(path);
	}
	if (dir[0] && csod_path(path, sizeof path, "%s/chain.pem", dir) == 0)
		unlink(path);
	csod_error err;
	/* -2: another node of a cluster expired it first. */
	if (csod_request_transition(d, &r, "expired", "csodd", &err) == -1)
		csod_log(LOG_ERR, id, "%s", err.msg);
	csod_request_free(&r);
}

int64_t csod_retention_run(csod_daemon *d)
{
	int64_t now = csod_now();
	csod_stmt *st = csod_db_prepare(
	    d->db, "SELECT id FROM requests WHERE state = 'signed' AND expires <= ?", NULL);
	if (!st)
		return 0;
	csod_db_bind_int64(st, 1, now);
	char ids[64][32];
	int n = 0;
	while (n < 64 && csod_db_step(st) == CSOD_DB_ROW)
		snprintf(ids[n++], sizeof ids[0], "%s", csod_db_text(st, 0));
	csod_db_finalize(st);
	for (int i = 0; i < n; i++)
		expire(d, ids[i]);
	if (n == 64)
		return now; /* more are due: come back at once */
	st = csod_db_prepare(d->db, "SELECT MIN(expires) FROM requests WHERE state = 'signed'",
	                     NULL);
	int64_t next = 0;
	if (st && csod_db_step(st) == CSOD_DB_ROW)
		next = csod_db_column_int64(st, 0);
	csod_db_finalize(st);
	/* Due but not expired: the database could not record it (a full
	 * disk). Try again in a while, not in a busy loop. */
	if (next && next <= now)
		next = now + 5;
	return next;
}
