/* Placeholder until the watcher lands. */
#include "watcher.h"

#include <stdlib.h>
#include <time.h>

struct csod_watcher {
	int fd;
};

int64_t csod_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

csod_watcher *csod_watcher_new(const csod_watcher_config *cfg, csod_drop_fn fn, void *ctx)
{
	(void)cfg;
	(void)fn;
	(void)ctx;
	csod_watcher *w = calloc(1, sizeof *w);
	if (w)
		w->fd = -1;
	return w;
}

void csod_watcher_free(csod_watcher *w)
{
	free(w);
}

void csod_watcher_set_config(csod_watcher *w, const csod_watcher_config *cfg)
{
	(void)w;
	(void)cfg;
}

int csod_watcher_add_inbox(csod_watcher *w, const char *name, const char *dir)
{
	(void)w;
	(void)name;
	(void)dir;
	return 0;
}

void csod_watcher_remove_inbox(csod_watcher *w, const char *name)
{
	(void)w;
	(void)name;
}

int csod_watcher_fd(const csod_watcher *w)
{
	return w->fd;
}

void csod_watcher_on_events(csod_watcher *w, int64_t now_ms)
{
	(void)w;
	(void)now_ms;
}

void csod_watcher_scan(csod_watcher *w, int64_t now_ms)
{
	(void)w;
	(void)now_ms;
}

int64_t csod_watcher_tick(csod_watcher *w, int64_t now_ms)
{
	(void)w;
	(void)now_ms;
	return -1;
}
