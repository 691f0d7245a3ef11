/* Static HTML pages people open from the share, no server and no script
 * needed: outbox/<developer>/index.html shows that developer's requests
 * (state, time line, signed files as links, the error in full, commands
 * that verify the signatures, work in progress), requests/index.html shows
 * the approvers what waits for approval, oldest first. Both are rendered
 * from the database on the loop thread whenever a request of theirs
 * changes (views.h) and written by a thread of their own, in order, each
 * file in tmp/ and renamed into place. Everything shown is escaped: names
 * and versions are the developers' choice. */
#ifndef CSOD_STATUS_PAGE_H
#define CSOD_STATUS_PAGE_H

#include "daemon.h"

/* The developer's page (and the approvers') is to be rewritten. */
void csod_pages_mark(csod_daemon *d, const char *developer);

/* Start-up: every developer with a request, and the approvers' page. */
void csod_pages_mark_all(csod_daemon *d);

/* Marks the pages whose work in progress changed (progress.h); the
 * milliseconds until this is worth calling again, or -1. */
int64_t csod_pages_tick(csod_daemon *d);

/* Renders the marked pages and hands them to the writer thread (or
 * writes them here when it cannot be started). */
void csod_pages_flush(csod_daemon *d);

/* Writes what is pending and stops the writer thread. */
void csod_pages_stop(csod_daemon *d);

/* The pages as text (malloc'd), for the writer and for tests: NULL when
 * they cannot be built. now is the time "expires in" counts from. */
char *csod_page_developer(const csod_daemon *d, const char *developer, int64_t now);
char *csod_page_approvers(const csod_daemon *d, int64_t now);

#endif
