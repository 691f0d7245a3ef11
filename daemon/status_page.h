/* Static HTML pages people open from the share, no server and no script
 * needed: outbox/<developer>/index.html shows that developer's requests
 * (state, time line, signed files as links, the error in full, commands
 * that verify the signatures, work in progress), requests/index.html shows
 * the approvers what waits for approval, oldest first, and
 * requests/approvers/<admin>.html each admin what waits in their scope
 * (readable by them alone). All are rendered
 * from the database on the loop thread whenever a request of theirs
 * changes (views.h) and written by a thread of their own, in order, each
 * file in tmp/ and renamed into place. Everything shown is escaped: names
 * and versions are the developers' choice. */
#ifndef CSOD_STATUS_PAGE_H
#define CSOD_STATUS_PAGE_H

#include "daemon.h"

/* The developer's page (and the approvers') is to be rewritten. */
void csod_pages_mark(csod_daemon *d, const char *developer);

/* A reload: the approvers' pages (admins added, removed, moved). */
void csod_pages_mark_approvers(csod_daemon *d);

/* Start-up: every developer with a request, and the approvers' page. */
void csod_pages_mark_all(csod_daemon *d);

/* Marks the pages whose work in progress changed (progress.h); the
 * milliseconds until this is worth calling again, or -1. */
int64_t csod_pages_tick(csod_daemon *d);

/* When pages are held back because the writer is still busy with earlier
 * ones (csod_pages_flush): the milliseconds until the loop should flush
 * again, else -1. */
int64_t csod_pages_held_ms(const csod_daemon *d);

/* Renders the marked pages and hands them to the writer thread (or
 * writes them here when it cannot be started); while the writer still has
 * earlier pages to write, they wait, gathering every change meanwhile. */
void csod_pages_flush(csod_daemon *d);

/* Writes what is pending and stops the writer thread. */
void csod_pages_stop(csod_daemon *d);

/* The pages as text (malloc'd), for the writer and for tests: NULL when
 * they cannot be built. now is the time "expires in" counts from. */
char *csod_page_developer(const csod_daemon *d, const char *developer, int64_t now);
/* who: that admin's own page (the requests their scope covers); NULL: the
 * overview of every waiting request, linking to the admins' pages. */
char *csod_page_approvers(const csod_daemon *d, const csod_admin *who, int64_t now);

/* One admin's own page, for the writer thread. */
typedef struct csod_approver_page {
	char *user;
	uid_t uid;
	char *html; /* NULL: could not be built; the old page stays */
} csod_approver_page;

/* Writes requests/approvers/<user>.html of each of pages (user:<uid>:r--
 * only) and removes the pages of anyone else (an admin since removed). */
void csod_approver_pages_write(const char *spool, const csod_approver_page *pages, int n);

#endif
