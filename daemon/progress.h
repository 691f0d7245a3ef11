/* Progress of long work for the people waiting on it: while an intake
 * copies and hashes a drop, its outbox folder's STATUS reads
 * "receiving <done>/<total>" (bytes), and while an engine signs,
 * "signing <done>/<total>". The thread doing the work rewrites STATUS
 * itself (tmp + rename), at most once a second and only once the work has
 * taken a second: short work shows nothing new, and every STATUS a script
 * waits for still comes from the views (views.h). The loop thread reads
 * the same figures for the status page (status_page.h). */
#ifndef CSOD_PROGRESS_H
#define CSOD_PROGRESS_H

#include <limits.h>
#include <stdint.h>

#include "request.h"

typedef struct csod_progress {
	char id[32];
	char developer[65];
	char drop[256];
	char phase[16];            /* "receiving" | "signing" */
	char outbox_dir[PATH_MAX]; /* where STATUS is written */
	char tmp_dir[PATH_MAX];    /* the spool's tmp/, for the rename */
	int64_t done, total;       /* bytes */
	int64_t started_ms, written_ms;
	int shown;                  /* STATUS (and the page) show it */
	struct csod_progress *next; /* the registry's list */
} csod_progress;

/* Registers p (owned by a job, alive until csod_progress_end) for the
 * request r (id, developer, drop name), whose outbox folder is
 * outbox_dir; total is in bytes. */
void csod_progress_begin(csod_progress *p, const char *phase, const csod_request *r,
                         const char *outbox_dir, const char *tmp_dir, int64_t total);

/* done bytes of total so far: STATUS is rewritten when a second has passed
 * since the work began and since its last rewrite. Safe on any thread. */
void csod_progress_set(csod_progress *p, int64_t done);

/* Unregisters p. restore, when progress was shown: STATUS's text to put
 * back (e.g. "in_progress\n"); "" to leave STATUS to the views (which
 * write the new state next); NULL to remove the STATUS progress wrote (an
 * intake that waits for room leaves no folder behind). */
void csod_progress_end(csod_progress *p, const char *restore);

/* What the status page shows of work in progress: a copy per entry that
 * is shown, for developer (NULL: all). */
typedef struct csod_progress_info {
	char id[32], developer[65], drop[256], phase[16];
	int64_t done, total;
} csod_progress_info;
void csod_progress_each(const char *developer, void (*fn)(void *ctx, const csod_progress_info *),
                        void *ctx);

/* Loop thread: calls fn for each developer whose shown progress changed
 * since the last call (their status page is stale); returns the
 * milliseconds until the next look is useful, or -1 when nothing runs. */
int64_t csod_progress_tick(void (*fn)(void *ctx, const char *developer), void *ctx);

#endif
