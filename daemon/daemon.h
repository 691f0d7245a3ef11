/* The daemon's shared state, owned by the event-loop thread. Signing workers
 * never touch it: they get a self-contained job and hand back a result. */
#ifndef CSOD_DAEMON_H
#define CSOD_DAEMON_H

#include <limits.h>
#include <stdint.h>
#include <time.h>

#include "../watchers/watcher.h"
#include "config.h"
#include "db.h"
#include "pki.h"

struct csod_workers;
struct csod_space;
struct csod_control;
struct csod_checks;
struct csod_pages;
struct csod_sign_batches;

/* A small set of request ids. */
typedef struct csod_idset {
	char (*ids)[32];
	int n, cap;
} csod_idset;
struct csod_mailer;

typedef struct csod_daemon {
	csod_config *cfg;
	char spool[PATH_MAX]; /* absolute */
	/* Cluster (cluster.h): the node's name; "@<node>" in its
	 * store/incoming names when a node is configured, else ""; its scratch
	 * under the spool, tmp/<node> or tmp. */
	char node[CSOD_NODE_MAX + 1];
	char node_tag[CSOD_NODE_MAX + 2];
	char tmp_rel[CSOD_NODE_MAX + 8];
	int64_t next_heartbeat_ms;
	int intakes_running;
	csod_db *db;
	csod_pki *pki;
	csod_watcher *watcher;
	struct csod_workers *workers;           /* signing */
	struct csod_sign_batches *sign_batches; /* publishing what was signed (sign_publish.h) */
	struct csod_workers *intake_workers;    /* copying and hashing drops */
	struct csod_mailer *mailer;
	int approvals_fd; /* inotify on approvals/ */
	int lock_fd;      /* flock: one daemon per spool */
	int64_t next_housekeeping_ms;
	int in_flight;               /* requests handed to workers */
	struct timespec inbox_mtime; /* inbox/ at the last look for strays */
	int strays_pending;
	csod_idset views;      /* requests whose outbox views are stale (views.h) */
	csod_idset views_busy; /* ... and those being rewritten now */
	struct csod_workers *view_workers;
	int views_failed;             /* a view could not be written: rewrite when there is room */
	struct csod_space *space;     /* work that waits for room on the spool (space.h) */
	struct csod_control *control; /* csodctl's socket (control.h) */
	struct csod_checks *checks;   /* pre-sign checks' workers (checks.h) */
	struct csod_pages *pages;     /* stale status pages (status_page.h) */
} csod_daemon;

/* Spool sub-paths: csod_spool_path(d, buf, "outbox/%s/%s", dev, id). */
int csod_spool_path(const csod_daemon *d, char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Creates the spool layout (DESIGN.md) if missing. */
int csod_spool_prepare(const char *spool, csod_error *err);

#endif
