#include "sign_publish.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "group_sync.h"
#include "spool_access.h"
#include "workers.h"

typedef struct csod_sign_batches {
	csod_workers *thread;
	csod_sign_batch *gathering; /* NULL while empty */
	int out;                    /* a batch is being published */
} csod_sign_batches;

/* The job failed now: what it left in tmp/ goes. */
static void job_fail(csod_sign_job *job, const csod_error *why)
{
	job->err = *why;
	job->failed = 1;
	job->no_space = csod_error_no_space(&job->err);
	csod_sign_job_drop_staged(job);
}

static int remember(csod_group_sync *g, csod_sign_job *job, csod_error *err)
{
	if (csod_group_sync_file(g, job->chain_tmp, err) < 0)
		return -1;
	for (int i = 0; i < job->n_staged; i++)
		if (csod_group_sync_file(g, job->staged[i].tmp, err) < 0)
			return -1;
	return 0;
}

/* chain.pem, then each output, by rename into the job's outbox folder; on
 * a failure what was renamed is taken back: never half a request. */
static int rename_all(csod_sign_job *job, csod_group_sync *g)
{
	char dest[PATH_MAX], parent[PATH_MAX];
	csod_error err;
	int rc = csod_outbox_mkdir(job->outbox_dir, &err);
	/* The folder may be new (views are written at the end of the loop's
	 * turn, which can come after this): its name is made durable too. */
	snprintf(parent, sizeof parent, "%s", job->outbox_dir);
	char *slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	if (rc == 0 && (csod_group_sync_dir(g, job->outbox_dir, &err) < 0 ||
	                csod_group_sync_dir(g, parent, &err) < 0))
		rc = -1;
	if (rc == 0 && csod_path(dest, sizeof dest, "%s/chain.pem", job->outbox_dir) < 0)
		rc = csod_fail(&err, "%s: path too long", job->outbox_dir);
	if (rc == 0 && rename(job->chain_tmp, dest) < 0)
		rc = csod_fail_errno(&err, "chain.pem: cannot publish");
	if (rc == 0)
		job->chain_tmp[0] = '\0';
	for (int i = 0; i < job->n_staged && rc == 0; i++) {
		csod_staged *st = &job->staged[i];
		if (csod_path(dest, sizeof dest, "%s/%s", job->outbox_dir, st->name) < 0)
			rc = csod_fail(&err, "%s: path too long", st->name);
		else if (rename(st->tmp, dest) < 0)
			rc = csod_fail_errno(&err, "%s: cannot publish", st->name);
		else
			st->tmp[0] = '\0';
	}
	if (rc < 0) {
		/* What was renamed: chain.pem and the outputs before this one. */
		csod_sign_job_unpublish(job);
		for (int i = 0; i < job->n_staged && !job->staged[i].tmp[0]; i++)
			if (csod_path(dest, sizeof dest, "%s/%s", job->outbox_dir,
			              job->staged[i].name) == 0)
				unlink(dest);
		job_fail(job, &err);
	}
	job->n_staged = 0;
	return rc;
}

void csod_sign_batch_publish(csod_sign_batch *b)
{
	csod_group_sync g = {0};
	csod_error err;
	const char *tmp_dir = NULL;
	int rc = 0;
	for (int i = 0; i < b->n && rc == 0; i++)
		if (!b->jobs[i]->failed) {
			tmp_dir = b->jobs[i]->tmp_dir;
			rc = remember(&g, b->jobs[i], &err);
		}
	/* The files on disk before any name appears. */
	if (rc == 0 && tmp_dir)
		rc = csod_group_sync_files(&g, tmp_dir, &err);
	for (int i = 0; i < b->n; i++) {
		csod_sign_job *job = b->jobs[i];
		if (job->failed)
			continue;
		if (rc < 0)
			job_fail(job, &err);
		else
			rename_all(job, &g);
	}
	if (rc == 0 && tmp_dir)
		csod_group_sync_dirs(&g, tmp_dir);
	csod_group_sync_free(&g);
}

static void batch_run(void *arg)
{
	csod_sign_batch_publish(arg);
}

void csod_sign_batch_free(csod_sign_batch *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->n; i++)
		csod_sign_job_free(b->jobs[i]);
	free(b->jobs);
	free(b);
}

static void batch_discard(void *arg)
{
	csod_sign_batch_free(arg);
}

int csod_sign_batches_start(csod_daemon *d)
{
	csod_sign_batches *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	d->sign_batches = s;
	s->thread = csod_workers_start(1, batch_run, batch_discard);
	return s->thread ? 0 : -1;
}

int csod_sign_batches_fd(const csod_daemon *d)
{
	return d->sign_batches && d->sign_batches->thread ? csod_workers_fd(d->sign_batches->thread)
	                                                  : -1;
}

static void send_out(csod_sign_batches *s)
{
	if (s->out || !s->gathering)
		return;
	s->out = 1;
	csod_workers_submit(s->thread, s->gathering);
	s->gathering = NULL;
}

void csod_sign_batches_add(csod_daemon *d, csod_sign_job *job)
{
	csod_sign_batches *s = d->sign_batches;
	csod_sign_batch *b = s->gathering;
	if (!b && (b = s->gathering = calloc(1, sizeof *b)) == NULL) {
		/* Out of memory: the request stays in_progress until a restart. */
		csod_sign_job_free(job);
		return;
	}
	if (b->n == b->cap) {
		int cap = b->cap ? 2 * b->cap : 16;
		csod_sign_job **grown = realloc(b->jobs, (size_t)cap * sizeof *grown);
		if (!grown) {
			csod_sign_job_free(job);
			return;
		}
		b->jobs = grown;
		b->cap = cap;
	}
	b->jobs[b->n++] = job;
	send_out(s);
}

csod_sign_batch *csod_sign_batches_take(csod_daemon *d)
{
	csod_sign_batches *s = d->sign_batches;
	csod_sign_batch *b = s ? csod_workers_take_done(s->thread) : NULL;
	if (b) {
		s->out = 0;
		send_out(s);
	}
	return b;
}

void csod_sign_batches_stop(csod_daemon *d)
{
	csod_sign_batches *s = d->sign_batches;
	if (!s)
		return;
	csod_workers_stop(s->thread);
	csod_sign_batch_free(s->gathering);
	free(s);
	d->sign_batches = NULL;
}
