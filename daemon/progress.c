/* The registry of work in progress and its STATUS rewrites (progress.h). */
#include "progress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "spool_access.h"

#define PROGRESS_EVERY_MS 1000

/* Work runs on intake and signing threads, the page is built on the loop
 * thread: the list and the figures in it are read and changed under one
 * lock, never held while a file is written. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static csod_progress *running;
/* Developers whose shown progress changed: their pages are stale. */
static char (*stale)[65];
static int n_stale, cap_stale;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void mark_stale(const char *developer)
{
	for (int i = 0; i < n_stale; i++)
		if (strcmp(stale[i], developer) == 0)
			return;
	if (n_stale == cap_stale) {
		int cap = cap_stale ? 2 * cap_stale : 16;
		char(*grown)[65] = realloc(stale, sizeof *grown * (size_t)cap);
		if (!grown)
			return; /* the page catches up at the next change */
		stale = grown;
		cap_stale = cap;
	}
	snprintf(stale[n_stale++], sizeof stale[0], "%s", developer);
}

void csod_progress_begin(csod_progress *p, const char *phase, const csod_request *r,
                         const char *outbox_dir, const char *tmp_dir, int64_t total)
{
	memset(p, 0, sizeof *p);
	snprintf(p->id, sizeof p->id, "%s", r->id);
	snprintf(p->developer, sizeof p->developer, "%s", r->developer);
	snprintf(p->drop, sizeof p->drop, "%s", r->drop_name);
	snprintf(p->phase, sizeof p->phase, "%s", phase);
	snprintf(p->outbox_dir, sizeof p->outbox_dir, "%s", outbox_dir);
	snprintf(p->tmp_dir, sizeof p->tmp_dir, "%s", tmp_dir);
	p->total = total;
	p->started_ms = now_ms();
	pthread_mutex_lock(&lock);
	p->next = running;
	running = p;
	pthread_mutex_unlock(&lock);
}

static int write_status(const csod_progress *p, const char *text)
{
	char path[PATH_MAX];
	if (csod_path(path, sizeof path, "%s/STATUS", p->outbox_dir) < 0)
		return -1;
	/* The request's folder may not exist yet (an intake): made closed, as
	 * every outbox folder is, before anything is put in it. */
	if (csod_outbox_mkdir(p->outbox_dir, NULL) < 0)
		return -1;
	return csod_write_file_atomic(p->tmp_dir, path, text, strlen(text), 0644, NULL);
}

void csod_progress_set(csod_progress *p, int64_t done)
{
	int64_t now = now_ms();
	pthread_mutex_lock(&lock);
	p->done = done > p->total ? p->total : done;
	int due =
	    now - p->started_ms >= PROGRESS_EVERY_MS && now - p->written_ms >= PROGRESS_EVERY_MS;
	char text[96];
	snprintf(text, sizeof text, "%s %lld/%lld\n", p->phase, (long long)p->done,
	         (long long)p->total);
	pthread_mutex_unlock(&lock);
	if (!due)
		return;
	/* Advice for people: a STATUS that cannot be written now is written
	 * at the next step, or by the views when the state changes. */
	int written = write_status(p, text) == 0;
	pthread_mutex_lock(&lock);
	p->written_ms = now;
	if (written) {
		p->shown = 1;
		mark_stale(p->developer);
	}
	pthread_mutex_unlock(&lock);
}

void csod_progress_end(csod_progress *p, const char *restore)
{
	pthread_mutex_lock(&lock);
	for (csod_progress **at = &running; *at; at = &(*at)->next)
		if (*at == p) {
			*at = p->next;
			break;
		}
	int shown = p->shown;
	if (shown)
		mark_stale(p->developer);
	pthread_mutex_unlock(&lock);
	if (!shown || (restore && !*restore))
		return;
	char path[PATH_MAX];
	if (restore)
		write_status(p, restore);
	else if (csod_path(path, sizeof path, "%s/STATUS", p->outbox_dir) == 0 && unlink(path) == 0)
		rmdir(p->outbox_dir); /* only when progress made it and left it empty */
}

void csod_progress_each(const char *developer, void (*fn)(void *ctx, const csod_progress_info *),
                        void *ctx)
{
	pthread_mutex_lock(&lock);
	for (const csod_progress *p = running; p; p = p->next) {
		if (!p->shown || (developer && strcmp(developer, p->developer) != 0))
			continue;
		csod_progress_info info;
		snprintf(info.id, sizeof info.id, "%s", p->id);
		snprintf(info.developer, sizeof info.developer, "%s", p->developer);
		snprintf(info.drop, sizeof info.drop, "%s", p->drop);
		snprintf(info.phase, sizeof info.phase, "%s", p->phase);
		info.done = p->done;
		info.total = p->total;
		fn(ctx, &info);
	}
	pthread_mutex_unlock(&lock);
}

int64_t csod_progress_tick(void (*fn)(void *ctx, const char *developer), void *ctx)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < n_stale; i++)
		fn(ctx, stale[i]);
	n_stale = 0;
	int64_t next = running ? PROGRESS_EVERY_MS : -1;
	pthread_mutex_unlock(&lock);
	return next;
}
