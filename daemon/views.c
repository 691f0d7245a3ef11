#include "views.h"

#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "request.h"
#include "status_page.h"
#include "workers.h"

/* The views rendered in one turn, carried to a publisher thread and
 * written there as one group (csod_views_write_group). */
#define VIEW_BATCH 128
typedef struct view_job {
	csod_view views[VIEW_BATCH]; /* state: the state shown, recorded once written */
	int rc[VIEW_BATCH];
	csod_error err[VIEW_BATCH];
	int n;
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
	csod_views_write_group(job->views, job->n, job->rc, job->err);
}

static void view_job_free(void *arg)
{
	view_job *job = arg;
	for (int i = 0; job && i < job->n; i++)
		csod_view_clear(&job->views[i]);
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

static void record_published(csod_daemon *d, view_job *job)
{
	csod_stmt *st =
	    csod_db_cached(d->db, "UPDATE requests SET published = ? WHERE id = ?", NULL);
	int in_tx = csod_db_begin(d->db) == 0;
	for (int i = 0; st && i < job->n; i++) {
		const csod_view *v = &job->views[i];
		if (job->rc[i] < 0) {
			csod_log(LOG_ERR, v->id, "cannot update the outbox: %s", job->err[i].msg);
			/* Written again when the spool has room (space.h). */
			d->views_failed = 1;
			continue;
		}
		/* STATUS's text without its newline. */
		char state[sizeof v->state];
		snprintf(state, sizeof state, "%.*s", (int)strcspn(v->state, "\n"), v->state);
		csod_db_bind_text(st, 1, state);
		csod_db_bind_text(st, 2, v->id);
		csod_db_step(st);
		csod_db_reset(st);
	}
	csod_db_release(st);
	if (in_tx && csod_db_commit(d->db) < 0)
		csod_db_rollback(d->db);
}

void csod_views_collect(csod_daemon *d)
{
	view_job *job;
	while (d->view_workers && (job = csod_workers_take_done(d->view_workers))) {
		for (int i = 0; i < job->n; i++)
			idset_remove(&d->views_busy, job->views[i].id);
		record_published(d, job);
		view_job_free(job);
	}
}

/* Hands a group to a publisher thread, or writes it here when there is
 * none (start-up, stop, tests). */
static void send(csod_daemon *d, view_job *job)
{
	if (!job || !job->n) {
		free(job);
		return;
	}
	if (d->view_workers) {
		csod_workers_submit(d->view_workers, job);
		return;
	}
	view_job_run(job);
	for (int i = 0; i < job->n; i++)
		idset_remove(&d->views_busy, job->views[i].id);
	record_published(d, job);
	view_job_free(job);
}

void csod_views_flush(csod_daemon *d)
{
	int kept = 0;
	view_job *job = NULL;
	for (int i = 0; i < d->views.n; i++) {
		const char *id = d->views.ids[i];
		/* One rewrite of a request at a time, so an older state can never
		 * land after a newer one: this one waits for the next turn. */
		if (idset_has(&d->views_busy, id)) {
			memmove(d->views.ids[kept++], id, sizeof d->views.ids[0]);
			continue;
		}
		if (!job && !(job = calloc(1, sizeof *job))) {
			csod_log(LOG_ERR, id, "cannot update the outbox: out of memory");
			continue;
		}
		csod_request r;
		csod_error err;
		if (csod_request_load(d->db, id, &r) != 0) {
			csod_request_free(&r);
			continue;
		}
		if (csod_view_render(d, &r, &job->views[job->n], &err) < 0) {
			/* Said, never silently skipped: the request has no current
			 * STATUS until the next start tries again. */
			csod_log(LOG_ERR, id, "cannot update the outbox: %s", err.msg);
		} else if (idset_add(&d->views_busy, id) < 0) {
			csod_log(LOG_ERR, id, "cannot update the outbox: out of memory");
			csod_view_clear(&job->views[job->n]);
		} else {
			csod_pages_mark(d, r.developer);
			if (++job->n == VIEW_BATCH) {
				send(d, job);
				job = NULL;
			}
		}
		csod_request_free(&r);
	}
	send(d, job);
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
