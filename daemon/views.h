/* The files that show requests to people (outbox STATUS, request.json,
 * ERROR; requests/<id>/details.json) are rewritten once per turn of the
 * event loop, not at every transition: an auto-approved drop goes
 * created -> approved -> in_progress in one turn and its views are written
 * once, with the state it ended in. The database stays the truth: each
 * request row remembers the state its views last showed (`published`), and
 * a start-up republishes every request whose views lag behind, so a crash
 * between a commit and the rewrite loses nothing. */
#ifndef CSOD_VIEWS_H
#define CSOD_VIEWS_H

#include "daemon.h"

/* Starts the threads that write views: each writes the views of one turn
 * as one group (csod_views_write_group), so they only write, sync and
 * rename. */
int csod_views_start(csod_daemon *d, int threads);
/* Readable when written views are to be collected (csod_views_collect). */
int csod_views_fd(const csod_daemon *d);
void csod_views_collect(csod_daemon *d);

/* The views of request id are to be rewritten at the end of this turn. */
void csod_views_mark(csod_daemon *d, const char *id);

/* Renders every marked request's views (from the database) and hands them
 * to the publisher threads, or writes them at once when there are none;
 * each is recorded as published once written. */
void csod_views_flush(csod_daemon *d);

/* Start-up: marks every request whose views show another state than its
 * row, then flushes. */
void csod_views_recover(csod_daemon *d);

/* Marks every request whose views show another state than its row (after
 * a write failed for want of space); they are written at the end of the
 * turn. */
void csod_views_retry(csod_daemon *d);

/* Stops the threads, writes what is still pending, frees the lists. */
void csod_views_stop(csod_daemon *d);

#endif
