/* Which status pages are stale, and their writer thread (status_page.h).
 * One thread writes them in the order they were rendered, so an older page
 * never lands over a newer one. */
#include "status_page.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "developers.h"
#include "progress.h"
#include "spool_access.h"
#include "workers.h"

typedef struct csod_pages {
	char (*developers)[65]; /* whose page is stale */
	int n, cap;
	int approvers; /* requests/index.html is stale */
	csod_workers *writer;
	int queued;   /* pages handed to the writer, not yet written */
	int stopping; /* write here, start no thread */
} csod_pages;

typedef struct page_job {
	char spool[PATH_MAX];
	char developer[65]; /* "" for the approvers' pages */
	char *html;
	csod_approver_page *own; /* the approvers' pages: each admin's own */
	int n_own;
} page_job;

static csod_pages *pages_of(csod_daemon *d)
{
	if (!d->pages)
		d->pages = calloc(1, sizeof *d->pages);
	return d->pages;
}

void csod_pages_mark(csod_daemon *d, const char *developer)
{
	csod_pages *p = pages_of(d);
	if (!p)
		return;
	p->approvers = 1;
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->developers[i], developer) == 0)
			return;
	if (p->n == p->cap) {
		int cap = p->cap ? 2 * p->cap : 16;
		char(*grown)[65] = realloc(p->developers, sizeof *grown * (size_t)cap);
		if (!grown)
			return; /* written at the next change or start */
		p->developers = grown;
		p->cap = cap;
	}
	snprintf(p->developers[p->n++], sizeof p->developers[0], "%s", developer);
}

void csod_pages_mark_all(csod_daemon *d)
{
	csod_stmt *st = csod_db_prepare(d->db, "SELECT DISTINCT developer FROM requests", NULL);
	while (st && csod_db_step(st) == CSOD_DB_ROW)
		csod_pages_mark(d, csod_db_text(st, 0));
	csod_db_finalize(st);
	if (pages_of(d))
		d->pages->approvers = 1;
}

void csod_pages_mark_approvers(csod_daemon *d)
{
	if (pages_of(d))
		d->pages->approvers = 1;
}

static void mark_cb(void *ctx, const char *developer)
{
	csod_pages_mark(ctx, developer);
}

/* How long stale pages wait for the writer to finish the last ones. */
#define PAGES_WAIT_MS 50

int64_t csod_pages_tick(csod_daemon *d)
{
	return csod_progress_tick(mark_cb, d);
}

int64_t csod_pages_held_ms(const csod_daemon *d)
{
	const csod_pages *p = d->pages;
	return p && p->queued && (p->n || p->approvers) ? PAGES_WAIT_MS : -1;
}

/* outbox/<developer>/index.html or requests/index.html. */
static void page_write(void *arg)
{
	page_job *job = arg;
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
	csod_error err = {.msg = "path too long"};
	int rc = -1;
	if (job->developer[0])
		csod_path(dir, sizeof dir, "%s/outbox/%s", job->spool, job->developer);
	else
		csod_path(dir, sizeof dir, "%s/requests", job->spool);
	if (csod_path(path, sizeof path, "%s/index.html", dir) == 0 &&
	    csod_path(tmp, sizeof tmp, "%s/tmp", job->spool) == 0) {
		/* A developer's folder is made closed, as every outbox is. */
		if (job->developer[0] && mkdir(dir, 0700) == 0)
			csod_outbox_restrict(job->spool, job->developer, NULL);
		rc = csod_write_file_atomic(tmp, path, job->html, strlen(job->html), 0644, &err);
	}
	if (rc < 0)
		csod_log(LOG_ERR, NULL, "cannot write %s/index.html: %s", dir, err.msg);
	if (!job->developer[0])
		csod_approver_pages_write(job->spool, job->own, job->n_own);
}

static void page_free(void *arg)
{
	page_job *job = arg;
	if (job) {
		free(job->html);
		for (int i = 0; i < job->n_own; i++) {
			free(job->own[i].user);
			free(job->own[i].html);
		}
		free(job->own);
	}
	free(job);
}

/* Each admin's own page; an admin without a Unix user (uid -1, or a uid
 * without a name) has none.
 * NULL when out of memory (the pages are kept as they are). */
static csod_approver_page *own_pages(csod_daemon *d, int64_t now, int *n)
{
	*n = 0;
	csod_approver_page *own = calloc((size_t)d->cfg->n_admins + 1, sizeof *own);
	for (int i = 0; own && i < d->cfg->n_admins; i++) {
		const csod_admin *a = &d->cfg->admins[i];
		if (a->uid == (uid_t)-1 || !csod_user_name_ok(a->user))
			continue;
		csod_approver_page *p = &own[(*n)++];
		p->uid = a->uid;
		p->user = strdup(a->user);
		p->html = csod_page_approvers(d, a, now);
		if (!p->user) {
			free(p->html);
			(*n)--;
			csod_log(LOG_ERR, NULL, "cannot build the page of %s", a->user);
		}
	}
	return own;
}

static void submit(csod_daemon *d, const char *developer, char *html, int64_t now)
{
	page_job *job = calloc(1, sizeof *job);
	if (job && !developer[0])
		job->own = own_pages(d, now, &job->n_own);
	if (!job || !html || (!developer[0] && !job->own)) {
		csod_log(LOG_ERR, NULL, "cannot build the status page of %s",
		         developer[0] ? developer : "the approvers");
		page_free(job);
		free(html);
		return;
	}
	snprintf(job->spool, sizeof job->spool, "%s", d->spool);
	snprintf(job->developer, sizeof job->developer, "%s", developer);
	job->html = html;
	if (d->pages->writer) {
		d->pages->queued++;
		csod_workers_submit(d->pages->writer, job);
		return;
	}
	page_write(job);
	page_free(job);
}

void csod_pages_flush(csod_daemon *d)
{
	csod_pages *p = d->pages;
	if (!p)
		return;
	void *done;
	while (p->writer && (done = csod_workers_take_done(p->writer))) {
		page_free(done);
		p->queued--;
	}
	/* While the writer still has pages of an earlier turn, stale pages
	 * wait (csod_pages_held_ms wakes the loop for them): in a burst a page is
	 * rendered and written once per round of the writer, not once per
	 * turn, each time with every change so far. */
	if ((!p->n && !p->approvers) || p->queued > 0)
		return;
	if (!p->writer && !p->stopping)
		p->writer = csod_workers_start(1, page_write, page_free);
	int64_t now = csod_now();
	for (int i = 0; i < p->n; i++)
		submit(d, p->developers[i], csod_page_developer(d, p->developers[i], now), now);
	p->n = 0;
	if (p->approvers)
		submit(d, "", csod_page_approvers(d, NULL, now), now);
	p->approvers = 0;
}

void csod_pages_stop(csod_daemon *d)
{
	csod_pages *p = d->pages;
	if (!p)
		return;
	/* Pages still queued are dropped by the writer's stop: all are
	 * written once more here, as they are now. */
	csod_workers_stop(p->writer);
	p->writer = NULL;
	p->queued = 0;
	p->stopping = 1;
	if (d->db) {
		csod_pages_mark_all(d);
		csod_pages_flush(d);
	}
	free(p->developers);
	free(p);
	d->pages = NULL;
}
