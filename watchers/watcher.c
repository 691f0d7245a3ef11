/* inotify on every inbox (and on every folder drop inside one), a periodic
 * scan for what inotify cannot see, and the settle logic of settle.c. */
#include "watcher.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "settle.h"

#define INBOX_MASK                                                                                 \
	(IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_MODIFY |        \
	 IN_ATTRIB | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

typedef struct inbox {
	char *name, *dir;
	int wd;
	struct timespec dir_mtime; /* to skip re-reading unchanged folders */
} inbox;

typedef struct drop {
	int inbox; /* index into inboxes */
	char *name;
	int folder_wd; /* watch inside a folder drop, or -1 */
	csod_settle settle;
} drop;

struct csod_watcher {
	int fd;
	csod_watcher_config cfg;
	csod_drop_fn fn;
	void *ctx;
	inbox *inboxes;
	int n_inboxes, cap_inboxes;
	drop *drops;
	int n_drops, cap_drops;
	int *wd_inbox; /* inotify hands out small increasing wds: wd -> inbox */
	int wd_cap;
	int64_t next_scan_ms;
};

int64_t csod_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Looks at a drop without following links: the folder is opened with
 * O_NOFOLLOW and its entries are looked at relative to it, so a drop
 * swapped for a link between two calls shows the link, never its target. */
static void look(const char *path, csod_drop_sig *sig)
{
	memset(sig, 0, sizeof *sig);
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	sig->exists = 1;
	sig->mtime_ns = ns(&st.st_mtim);
	if (!S_ISDIR(st.st_mode)) {
		sig->size = st.st_size;
		sig->entries = st.st_mode; /* a file turning into a link is a change */
		return;
	}
	sig->is_dir = 1;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dh = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dh) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(dh))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		sig->entries++;
		if (strcmp(e->d_name, "READY") == 0)
			sig->has_ready = 1;
		else if (csod_name_ignored(e->d_name))
			sig->has_temp = 1;
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			sig->size += st.st_size;
			if (ns(&st.st_mtim) > sig->mtime_ns)
				sig->mtime_ns = ns(&st.st_mtim);
		}
	}
	closedir(dh);
}

static void drop_path(const csod_watcher *w, const drop *d, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", w->inboxes[d->inbox].dir, d->name);
}

static int find_drop(const csod_watcher *w, int inbox_idx, const char *name)
{
	for (int i = 0; i < w->n_drops; i++)
		if (w->drops[i].inbox == inbox_idx && strcmp(w->drops[i].name, name) == 0)
			return i;
	return -1;
}

static int find_drop_by_wd(const csod_watcher *w, int wd)
{
	for (int i = 0; i < w->n_drops; i++)
		if (w->drops[i].folder_wd == wd)
			return i;
	return -1;
}

static int find_inbox_by_wd(const csod_watcher *w, int wd)
{
	return wd >= 0 && wd < w->wd_cap ? w->wd_inbox[wd] : -1;
}

static void map_wd(csod_watcher *w, int wd, int inbox_idx)
{
	if (wd < 0)
		return;
	if (wd >= w->wd_cap) {
		int cap = w->wd_cap ? w->wd_cap : 64;
		while (cap <= wd)
			cap *= 2;
		int *grown = realloc(w->wd_inbox, sizeof *grown * (size_t)cap);
		if (!grown)
			return;
		for (int i = w->wd_cap; i < cap; i++)
			grown[i] = -1;
		w->wd_inbox = grown;
		w->wd_cap = cap;
	}
	w->wd_inbox[wd] = inbox_idx;
}

static void forget(csod_watcher *w, int i)
{
	drop *d = &w->drops[i];
	if (d->folder_wd >= 0)
		inotify_rm_watch(w->fd, d->folder_wd);
	free(d->name);
	w->drops[i] = w->drops[--w->n_drops];
}

/* Finds or starts tracking inbox_idx/name; -1 if it is not a drop. */
static int track(csod_watcher *w, int inbox_idx, const char *name, int64_t now)
{
	if (csod_name_ignored(name))
		return -1;
	int i = find_drop(w, inbox_idx, name);
	if (i >= 0)
		return i;
	if (w->n_drops == w->cap_drops) {
		int cap = w->cap_drops ? w->cap_drops * 2 : 16;
		drop *grown = realloc(w->drops, sizeof *grown * (size_t)cap);
		if (!grown)
			return -1;
		w->drops = grown;
		w->cap_drops = cap;
	}
	drop *d = &w->drops[w->n_drops];
	d->inbox = inbox_idx;
	d->name = strdup(name);
	d->folder_wd = -1;
	char path[PATH_MAX];
	drop_path(w, d, path, sizeof path);
	csod_drop_sig sig;
	look(path, &sig);
	if (!sig.exists || !d->name) {
		free(d->name);
		return -1;
	}
	if (sig.is_dir)
		d->folder_wd = inotify_add_watch(w->fd, path, INBOX_MASK | IN_DONT_FOLLOW);
	csod_settle_init(&d->settle, &sig, now);
	return w->n_drops++;
}

csod_watcher *csod_watcher_new(const csod_watcher_config *cfg, csod_drop_fn fn, void *ctx)
{
	csod_watcher *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		free(w);
		return NULL;
	}
	w->cfg = *cfg;
	w->fn = fn;
	w->ctx = ctx;
	return w;
}

void csod_watcher_free(csod_watcher *w)
{
	if (!w)
		return;
	while (w->n_drops > 0)
		forget(w, w->n_drops - 1);
	for (int i = 0; i < w->n_inboxes; i++) {
		free(w->inboxes[i].name);
		free(w->inboxes[i].dir);
	}
	free(w->inboxes);
	free(w->drops);
	free(w->wd_inbox);
	close(w->fd);
	free(w);
}

void csod_watcher_set_config(csod_watcher *w, const csod_watcher_config *cfg)
{
	w->cfg = *cfg;
	w->next_scan_ms = 0;
}

int csod_watcher_fd(const csod_watcher *w)
{
	return w->fd;
}

int csod_watcher_add_inbox(csod_watcher *w, const char *name, const char *dir)
{
	for (int i = 0; i < w->n_inboxes; i++)
		if (strcmp(w->inboxes[i].name, name) == 0)
			return 0;
	if (w->n_inboxes == w->cap_inboxes) {
		int cap = w->cap_inboxes ? w->cap_inboxes * 2 : 16;
		inbox *grown = realloc(w->inboxes, sizeof *grown * (size_t)cap);
		if (!grown)
			return -1;
		w->inboxes = grown;
		w->cap_inboxes = cap;
	}
	inbox *in = &w->inboxes[w->n_inboxes];
	memset(in, 0, sizeof *in);
	in->name = strdup(name);
	in->dir = strdup(dir);
	in->wd = inotify_add_watch(w->fd, dir, INBOX_MASK);
	/* Without a watch (limit reached) the periodic scan still finds drops. */
	map_wd(w, in->wd, w->n_inboxes);
	w->n_inboxes++;
	/* What is already there is found by the next scan. */
	w->next_scan_ms = 0;
	return 0;
}

void csod_watcher_remove_inbox(csod_watcher *w, const char *name)
{
	for (int i = 0; i < w->n_inboxes; i++) {
		if (strcmp(w->inboxes[i].name, name) != 0)
			continue;
		for (int k = w->n_drops - 1; k >= 0; k--)
			if (w->drops[k].inbox == i)
				forget(w, k);
		if (w->inboxes[i].wd >= 0) {
			inotify_rm_watch(w->fd, w->inboxes[i].wd);
			map_wd(w, w->inboxes[i].wd, -1);
		}
		free(w->inboxes[i].name);
		free(w->inboxes[i].dir);
		/* Keep indices stable for the others: move the last one here. */
		int last = --w->n_inboxes;
		if (i != last) {
			w->inboxes[i] = w->inboxes[last];
			map_wd(w, w->inboxes[i].wd, i);
			for (int k = 0; k < w->n_drops; k++)
				if (w->drops[k].inbox == last)
					w->drops[k].inbox = i;
		}
		return;
	}
}

static void scan_inbox(csod_watcher *w, int idx, int64_t now, int force)
{
	inbox *in = &w->inboxes[idx];
	struct stat st;
	if (lstat(in->dir, &st) < 0)
		return;
	/* A new entry changes the folder's mtime, also for remote writers: an
	 * unchanged inbox needs no readdir. Pending drops are looked at apart. */
	if (!force && st.st_mtim.tv_sec == in->dir_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == in->dir_mtime.tv_nsec)
		return;
	in->dir_mtime = st.st_mtim;
	DIR *dh = opendir(in->dir);
	if (!dh)
		return;
	struct dirent *e;
	while ((e = readdir(dh)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			track(w, idx, e->d_name, now);
	closedir(dh);
}

static void scan(csod_watcher *w, int64_t now, int force)
{
	for (int i = 0; i < w->n_inboxes; i++)
		scan_inbox(w, i, now, force);
}

void csod_watcher_scan(csod_watcher *w, int64_t now_ms)
{
	scan(w, now_ms, 1);
}

void csod_watcher_on_events(csod_watcher *w, int64_t now)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof buf);
		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof *ev + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				scan(w, now, 1);
				continue;
			}
			int idx = find_inbox_by_wd(w, ev->wd);
			if (idx >= 0 && ev->len > 0) {
				if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
					int i = find_drop(w, idx, ev->name);
					if (i >= 0)
						forget(w, i);
					continue;
				}
				int i = track(w, idx, ev->name, now);
				if (i < 0)
					continue;
				if (ev->mask & IN_MOVED_TO)
					csod_settle_arrived(&w->drops[i].settle, now);
				else
					csod_settle_event(&w->drops[i].settle, now);
				continue;
			}
			int i = find_drop_by_wd(w, ev->wd);
			if (i >= 0 && !(ev->mask & IN_IGNORED))
				csod_settle_event(&w->drops[i].settle, now);
		}
	}
}

int64_t csod_watcher_tick(csod_watcher *w, int64_t now)
{
	int64_t poll = w->cfg.poll_interval_ms;
	int scanned = 0;
	if (poll > 0 && now >= w->next_scan_ms) {
		scan(w, now, w->next_scan_ms == 0);
		w->next_scan_ms = now + poll;
		scanned = 1;
	} else if (poll <= 0 && w->next_scan_ms == 0) {
		/* No periodic scan: still look once at what is already there. */
		scan(w, now, 1);
		w->next_scan_ms = INT64_MAX;
		scanned = 1;
	}
	int64_t next = poll > 0 ? w->next_scan_ms - now : -1;
	for (int i = 0; i < w->n_drops;) {
		drop *d = &w->drops[i];
		int64_t due = csod_settle_due(&d->settle, now, w->cfg.settle_ms);
		/* Handed-over drops are looked at only on a scan: to forget them
		 * once gone, or to notice that they changed. */
		if (due > 0 || (due < 0 && !scanned)) {
			if (due > 0 && (next < 0 || due < next))
				next = due;
			i++;
			continue;
		}
		char path[PATH_MAX];
		drop_path(w, d, path, sizeof path);
		csod_drop_sig sig;
		look(path, &sig);
		if (!sig.exists) {
			forget(w, i);
			continue;
		}
		if (csod_settle_check(&d->settle, &sig, now, w->cfg.settle_ms)) {
			/* Copied: the callback may change the watcher's arrays. */
			char name[NAME_MAX + 1], box[128];
			snprintf(name, sizeof name, "%s", d->name);
			snprintf(box, sizeof box, "%s", w->inboxes[d->inbox].name);
			w->fn(w->ctx, box, name, sig.is_dir);
			i++;
			continue;
		}
		due = csod_settle_due(&d->settle, now, w->cfg.settle_ms);
		if (due >= 0 && (next < 0 || due < next))
			next = due > 0 ? due : 1;
		i++;
	}
	return next;
}
