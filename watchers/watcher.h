/* Watches the inboxes and reports drops that are complete. It knows files,
 * not requests: it says "inbox X, entry Y is ready" and the daemon takes it.
 *
 * A drop is a top-level file or folder in an inbox. It is ready:
 *  - at once when it arrives by rename (IN_MOVED_TO), or when a folder gets
 *    a file named READY;
 *  - otherwise once it has been quiet (no size or mtime change anywhere in
 *    it) for settle_ms.
 * Names starting with "." or "~$", or ending in .tmp .part .partial
 * .crdownload are ignored (in progress). inotify is the fast path; a
 * periodic scan (poll_interval) catches writes that remote filesystems do not
 * report, and a full scan runs at start and after IN_Q_OVERFLOW.
 *
 * Single-threaded: call from the daemon's event loop. */
#ifndef CSOD_WATCHER_H
#define CSOD_WATCHER_H

#include <stdint.h>

typedef struct csod_watcher csod_watcher;

/* Called for each ready drop. inbox is the name given to
 * csod_watcher_add_inbox, entry the top-level name inside it. The daemon is
 * expected to move the entry out of the inbox; if it is still there later
 * and changes, it will be reported again. */
typedef void (*csod_drop_fn)(void *ctx, const char *inbox, const char *entry, int is_dir);

typedef struct csod_watcher_config {
	int64_t settle_ms;
	int64_t poll_interval_ms; /* 0 = no periodic scan */
} csod_watcher_config;

csod_watcher *csod_watcher_new(const csod_watcher_config *cfg, csod_drop_fn fn, void *ctx);
void csod_watcher_free(csod_watcher *w);
void csod_watcher_set_config(csod_watcher *w, const csod_watcher_config *cfg);

/* Starts watching dir under the given name (a developer's user name). Adding
 * a name that is already watched is a no-op. */
int csod_watcher_add_inbox(csod_watcher *w, const char *name, const char *dir);
void csod_watcher_remove_inbox(csod_watcher *w, const char *name);

/* The inotify descriptor, for epoll. */
int csod_watcher_fd(const csod_watcher *w);

/* Reads pending inotify events (call when the fd is readable). */
void csod_watcher_on_events(csod_watcher *w, int64_t now_ms);

/* Scans every inbox (start-up, periodic, after overflow). */
void csod_watcher_scan(csod_watcher *w, int64_t now_ms);

/* Fires the callback for drops that became ready by now_ms, runs the
 * periodic scan when due. Returns the milliseconds until it next needs to be
 * called (-1: nothing pending), for the daemon's timerfd. */
int64_t csod_watcher_tick(csod_watcher *w, int64_t now_ms);

/* Monotonic milliseconds, the clock the watcher expects. */
int64_t csod_monotonic_ms(void);

#endif
