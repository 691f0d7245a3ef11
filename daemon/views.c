#include "views.h"

#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "request.h"
#include "status_page.h"
#include "workers.h"

/* One rewrite of one request's views, carried to a publisher thread. */
typedef struct view_job {
	csod_view view; /* view.state is the state shown, recorded once written */
	int rc;
	csod_error err;
} view_job;

static int idset_has(const csod_idset *s, const char *id)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->ids[i], id) == 0)
			return 1;
	return 0;
}

static int idset_add(csod_idset *s, const char *id)
{
	if (idset_has(s, id))
		return 0;
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 64;
		char(*grown)[32] = realloc(s->ids, sizeof *grown * (size_t)cap);
		if (!grown)
			return -1;
		s->ids = grown;
		s->cap = cap;
	}
	snprintf(s->ids[s->n++], sizeof s->ids[0], "%s", id);
	return 0;
}

static void idset_remove(csod_idset *s, const char *id)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->ids[i], id) == 0) {
			memmove(s->ids[i], s->ids[s->n - 1], sizeof s->ids[0]);
			s->n--;
			return;
		}
}

void csod_views_mark(csod_daemon *d, const char *id)
{
	if (idset_add(&d->views, id) < 0)
		csod_log(LOG_ERR, id, "out of memory; the outbox is updated at the next start");
}

static void view_job_run(void *arg)
{
	view_job *job = arg;
	job->rc = csod_view_write(&job->view, &job->err);
}

static void view_job_free(void *arg)
{
	view_job *job = arg;
	if (job)
		csod_view_clear(&job->view);
	free(job);
}

int csod_views_start(csod_daemon *d, int threads)
{
	d->view_workers = csod_workers_start(threads, view_job_run, view_job_free);
	return d->view_workers ? 0 : -1;
}

int csod_views_fd(const csod_daemon *d)
{
	return d->view_workers ? csod_workers_fd(d->view_workers) : -1;
}

static void record_published(csod_daemon *d, view_job **jobs, int n)
{
	csod_stmt *st =
	    csod_db_cached(d->db, "UPDATE requests SET published = ? WHERE id = ?", NULL);
	int in_tx = csod_db_begin(d->db) == 0;
	for (int i = 0; st && i < n; i++) {
		if (jobs[i]->rc < 0) {
			csod_log(LOG_ERR, jobs[i]->view.id, "cannot update the outbox: %s",
			         jobs[i]->err.msg);
			/* Written again when the spool has room (space.h). */
			d->views_failed = 1;
			continue;
		}
		/* STATUS's text without its newline. */
		char state[sizeof jobs[i]->view.state];
		snprintf(state, sizeof state, "%.*s", (int)strcspn(jobs[i]->view.state, "\n"),
		         jobs[i]->view.state);
		csod_db_bind_text(st, 1, state);
		csod_db_bind_text(st, 2, jobs[i]->view.id);
		csod_db_step(st);
		csod_db_reset(st);
	}
	csod_db_release(st);
	if (in_tx && csod_db_commit(d->db) < 0)
		csod_db_rollback(d->db);
}

void csod_views_collect(csod_daemon *d)
{
	view_job *batch[64];
	int n = 0;
	view_job *job;
	while (d->view_workers && (job = csod_workers_take_done(d->view_workers))) {
		idset_remove(&d->views_busy, job->view.id);
		batch[n++] = job;
		if (n == (int)(sizeof batch / sizeof batch[0])) {
			record_published(d, batch, n);
			for (int i = 0; i < n; i++)
				view_job_free(batch[i]);
			n = 0;
		}
	}
	record_published(d, batch, n);
	for (int i = 0; i < n; i++)
		view_job_free(batch[i]);
}

void csod_views_flush(csod_daemon *d)
{
	int kept = 0;
	for (int i = 0; i < d->views.n; i++) {
		const char *id = d->views.ids[i];
		/* One rewrite of a request at a time, so an older state can never
		 * land after a newer one: this one waits for the next turn. */
		if (idset_has(&d->views_busy, id)) {
			memmove(d->views.ids[kept++], id, sizeof d->views.ids[0]);
			continue;
		}
		csod_request r;
		view_job *job = NULL;
		csod_error err = {.msg = "out of memory"};
		int loaded = csod_request_load(d->db, id, &r) == 0;
		if (loaded && (!(job = calloc(1, sizeof *job)) ||
		               csod_view_render(d, &r, &job->view, &err) < 0)) {
			/* Said, never silently skipped: the request has no current
			 * STATUS until the next start tries again. */
			csod_log(LOG_ERR, id, "cannot update the outbox: %s", err.msg);
		} else if (loaded) {
			csod_pages_mark(d, r.developer);
			if (d->view_workers && idset_add(&d->views_busy, id) == 0) {
				csod_workers_submit(d->view_workers, job);
			} else {
				/* No publisher threads (start-up, tests): write here. */
				view_job_run(job);
				record_published(d, &job, 1);
				view_job_free(job);
			}
			job = NULL;
		}
		free(job);
		csod_request_free(&r);
	}
	d->views.n = kept;
	csod_pages_flush(d);
}

void csod_views_retry(csod_daemon *d)
{
	csod_stmt *st = csod_db_prepare(
	    d->db, "SELECT id FROM requests WHERE published IS DISTINCT FROM state ORDER BY id",
	    NULL);
	while (st && csod_db_step(st) == CSOD_DB_ROW)
		csod_views_mark(d, csod_db_text(st, 0));
	csod_db_finalize(st);
}

void csod_views_recover(csod_daemon *d)
{
	csod_views_retry(d);
	/* Pages are not recorded as published: all are written again. */
	csod_pages_mark_all(d);
	if (d->views.n)
		csod_log(LOG_NOTICE, NULL, "rewriting the outbox views of %d request(s)",
		         d->views.n);
	csod_views_flush(d);
}

void csod_views_stop(csod_daemon *d)
{
	/* Rewrites still queued are dropped; what is marked or was dropped is
	 * written here, before the database closes. */
	csod_workers_stop(d->view_workers);
	d->view_workers = NULL;
	for (int i = 0; i < d->views_busy.n; i++)
		idset_add(&d->views, d->views_busy.ids[i]);
	d->views_busy.n = 0;
	if (d->db)
		csod_views_flush(d);
	csod_pages_stop(d);
	free(d->views.ids);
	free(d->views_busy.ids);
	memset(&d->views, 0, sizeof d->views);
	memset(&d->views_busy, 0, sizeof d->views_busy);
}
