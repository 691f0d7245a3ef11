/* Room on the spool, and the work that waits for it (see space.h). */
#include "space.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "../lib/fdtree.h"
#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "../lib/text.h"
#include "dispatch.h"
#include "intake.h"
#include "request.h"
#include "views.h"

/* A folder with more entries than this is refused by the intake anyway;
 * counting stops there. */
#define MAX_COUNTED 100000

typedef struct space_wait {
	csod_wait_kind kind;
	char id[32];
	char developer[72];
	char entry[256];
	char approver[72];
	char *message;
	char why[512];
	int attempts;
	int trying;
	int64_t not_before_ms; /* after a failed try: longer and longer waits */
	unsigned round;        /* the tick that last tried it */
} space_wait;

typedef struct csod_space {
	space_wait *waits;
	int n, cap;
	int64_t claimed;
	int64_t next_ms;
	unsigned round;
	/* Developers whose outbox/<developer>/ERROR is to be rewritten. */
	char (*dirty)[72];
	int n_dirty, cap_dirty;
} csod_space;

static csod_space *space_of(csod_daemon *d)
{
	if (!d->space)
		d->space = calloc(1, sizeof *d->space);
	if (!d->space)
		csod_log(LOG_ERR, NULL,
		         "out of memory: work that waits for space is lost "
		         "until the next start");
	return d->space;
}

static void human(int64_t bytes, char *out, size_t len)
{
	if (bytes >= (1LL << 30))
		snprintf(out, len, "%.1f GiB", (double)bytes / (1LL << 30));
	else if (bytes >= (1LL << 20))
		snprintf(out, len, "%.1f MiB", (double)bytes / (1LL << 20));
	else
		snprintf(out, len, "%lld KiB", (long long)((bytes + 1023) / 1024));
}

int csod_room_read(const csod_daemon *d, csod_room *room)
{
	memset(room, 0, sizeof *room);
	int fd = open(d->spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct statvfs vfs;
	int rc = fd < 0 ? -1 : fstatvfs(fd, &vfs);
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		return -1;
	int64_t unit = vfs.f_frsize ? (int64_t)vfs.f_frsize : (int64_t)vfs.f_bsize;
	room->block = unit > 0 ? unit : 4096;
	room->total = (int64_t)vfs.f_blocks * room->block;
	room->avail = (int64_t)vfs.f_bavail * room->block;
	if (d->space)
		room->avail -= d->space->claimed;
	if (room->avail < 0)
		room->avail = 0;
	room->reserve = d->cfg->min_free_percent > 0 ? room->total / 100 * d->cfg->min_free_percent
	                                             : d->cfg->min_free_space;
	return 0;
}

int csod_room_fits(const csod_room *room, int64_t need, int64_t held, char *why, size_t len)
{
	char need_s[32], free_s[32], reserve_s[32], total_s[32];
	human(need, need_s, sizeof need_s);
	human(room->avail, free_s, sizeof free_s);
	human(room->reserve, reserve_s, sizeof reserve_s);
	human(room->total, total_s, sizeof total_s);
	if (need + held + room->reserve > room->total) {
		if (why)
			snprintf(why, len,
			         "it needs %s on the spool, whose filesystem holds %s in all and "
			         "keeps %s of it free (min_free_space): it can never be taken",
			         need_s, total_s, reserve_s);
		return -1;
	}
	if (room->avail >= need + room->reserve)
		return 1;
	if (why)
		snprintf(why, len,
		         "the spool has %s free and keeps %s of it in reserve (min_free_space); "
		         "this needs %s",
		         free_s, reserve_s, need_s);
	return 0;
}

static int64_t blocks_of(int64_t size, int64_t block)
{
	return (size + block - 1) / block * block;
}

int csod_drop_size_at(int dir_fd, const char *name, int64_t block, int64_t *need, int64_t *held)
{
	struct stat st;
	*need = *held = 0;
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		if (S_ISREG(st.st_mode)) {
			*need = blocks_of(st.st_size, block);
			*held = (int64_t)st.st_blocks * 512;
		}
		return 0;
	}
	int fd = csod_open_dir_at(dir_fd, name);
	DIR *dh = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dh) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct dirent *e;
	for (int n = 0; n < MAX_COUNTED && (e = readdir(dh)); n++)
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
			*need += blocks_of(st.st_size, block);
			*held += (int64_t)st.st_blocks * 512;
		}
	closedir(dh);
	return 0;
}

void csod_space_claim(csod_daemon *d, int64_t bytes)
{
	if (bytes > 0 && space_of(d))
		d->space->claimed += bytes;
}

void csod_space_release(csod_daemon *d, int64_t bytes)
{
	if (bytes > 0 && d->space)
		d->space->claimed -= bytes;
}

static int is_drop_kind(csod_wait_kind kind)
{
	return kind == CSOD_WAIT_DROP || kind == CSOD_WAIT_INTAKE;
}

static space_wait *find(const csod_space *s, csod_wait_kind kind, const char *id,
                        const char *developer, const char *entry)
{
	for (int i = 0; s && i < s->n; i++) {
		space_wait *w = &s->waits[i];
		if (w->kind != kind)
			continue;
		if (kind == CSOD_WAIT_DROP
		        ? strcmp(w->developer, developer) == 0 && strcmp(w->entry, entry) == 0
		        : strcmp(w->id, id) == 0)
			return w;
	}
	return NULL;
}

static void mark_dirty(csod_space *s, const char *developer)
{
	for (int i = 0; i < s->n_dirty; i++)
		if (strcmp(s->dirty[i], developer) == 0)
			return;
	if (s->n_dirty == s->cap_dirty) {
		int cap = s->cap_dirty ? 2 * s->cap_dirty : 8;
		char(*grown)[72] = realloc(s->dirty, sizeof *grown * (size_t)cap);
		if (!grown)
			return;
		s->dirty = grown;
		s->cap_dirty = cap;
	}
	snprintf(s->dirty[s->n_dirty++], sizeof s->dirty[0], "%s", developer);
}

/* "developer/entry: " for drops, "" for requests (their id leads the line). */
static const char *label(const space_wait *w, char *buf, size_t len)
{
	if (!is_drop_kind(w->kind))
		return "";
	snprintf(buf, len, "%s/%s: ", w->developer, w->entry);
	return buf;
}

static void log_new_wait(const space_wait *w)
{
	switch (w->kind) {
	case CSOD_WAIT_DROP:
		csod_log(LOG_WARNING, NULL, "%s/%s: left in the inbox until the spool has room: %s",
		         w->developer, w->entry, w->why);
		break;
	case CSOD_WAIT_INTAKE:
		csod_log(LOG_WARNING, w->id,
		         "%s/%s: kept in store/incoming until the spool has room: %s", w->developer,
		         w->entry, w->why);
		break;
	case CSOD_WAIT_SIGN:
		csod_log(LOG_WARNING, w->id, "signing waits for room on the spool: %s", w->why);
		break;
	case CSOD_WAIT_APPROVE:
		csod_log(LOG_WARNING, w->id, "the approval waits for room on the spool: %s",
		         w->why);
		break;
	}
}

int csod_space_wait(csod_daemon *d, csod_wait_kind kind, const char *id, const char *developer,
                    const char *entry, const char *why)
{
	csod_space *s = space_of(d);
	if (!s)
		return CSOD_SPACE_ATTEMPTS;
	space_wait *w = find(s, kind, id, developer, entry);
	if (w) {
		snprintf(w->why, sizeof w->why, "%s", why);
		if (w->trying) {
			char buf[400];
			w->trying = 0;
			w->attempts++;
			w->not_before_ms =
			    csod_monotonic_ms() +
			    ((int64_t)CSOD_SPACE_RETRY_MS << (w->attempts < 8 ? w->attempts : 8));
			csod_log(LOG_WARNING, w->id[0] ? w->id : NULL, "%stry %d of %d failed: %s",
			         label(w, buf, sizeof buf), w->attempts, CSOD_SPACE_ATTEMPTS, why);
		}
		return w->attempts;
	}
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 16;
		space_wait *grown = realloc(s->waits, sizeof *grown * (size_t)cap);
		if (!grown)
			return CSOD_SPACE_ATTEMPTS;
		s->waits = grown;
		s->cap = cap;
	}
	w = &s->waits[s->n++];
	memset(w, 0, sizeof *w);
	w->kind = kind;
	snprintf(w->id, sizeof w->id, "%s", id ? id : "");
	snprintf(w->developer, sizeof w->developer, "%s", developer ? developer : "");
	snprintf(w->entry, sizeof w->entry, "%s", entry ? entry : "");
	snprintf(w->why, sizeof w->why, "%s", why);
	log_new_wait(w);
	if (is_drop_kind(kind))
		mark_dirty(s, w->developer);
	int64_t now = csod_monotonic_ms();
	if (s->next_ms < now)
		s->next_ms = now + CSOD_SPACE_RETRY_MS;
	return 0;
}

void csod_space_wait_approval(csod_daemon *d, const char *id, const char *approver,
                              const char *message, const char *why)
{
	if (csod_space_wait(d, CSOD_WAIT_APPROVE, id, NULL, NULL, why) != 0 || !d->space)
		return;
	space_wait *w = find(d->space, CSOD_WAIT_APPROVE, id, NULL, NULL);
	if (w && !w->message) {
		snprintf(w->approver, sizeof w->approver, "%s", approver);
		w->message = strdup(message ? message : "");
	}
}

void csod_space_trying(csod_daemon *d, csod_wait_kind kind, const char *id, const char *developer,
                       const char *entry)
{
	space_wait *w = find(d->space, kind, id, developer, entry);
	if (w)
		w->trying = 1;
}

void csod_space_done(csod_daemon *d, csod_wait_kind kind, const char *id, const char *developer,
                     const char *entry)
{
	csod_space *s = d->space;
	space_wait *w = find(s, kind, id, developer, entry);
	if (!w)
		return;
	char buf[400];
	csod_log(LOG_NOTICE, w->id[0] ? w->id : NULL, "%sno longer waits for room",
	         label(w, buf, sizeof buf));
	if (is_drop_kind(kind))
		mark_dirty(s, w->developer);
	free(w->message);
	/* Kept in order: what waited first is tried first. */
	memmove(w, w + 1, sizeof *w * (size_t)(s->n - (w - s->waits) - 1));
	s->n--;
}

/* outbox/<developer>/ERROR lists the developer's drops that wait, or is
 * removed when none does. 0 when done, -1 to try again when there is
 * room. */
static int write_note(csod_daemon *d, const char *developer)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	if (csod_spool_path(d, path, sizeof path, "outbox/%s/ERROR", developer) < 0)
		return 0;
	size_t len = 0, cap = 0;
	char *text = NULL;
	for (int i = 0; i < d->space->n; i++) {
		const space_wait *w = &d->space->waits[i];
		if (!is_drop_kind(w->kind) || strcmp(w->developer, developer) != 0)
			continue;
		/* The names are the developer's: escaped, one line each. */
		char line[1024], entry[CSOD_SHOWN_MAX], why[sizeof w->why];
		int n =
		    snprintf(line, sizeof line, "%s: %s: %s\n",
		             csod_escape_to(w->entry, entry, sizeof entry),
		             w->kind == CSOD_WAIT_DROP
		                 ? "not taken yet, it stays in your inbox until the spool has room"
		                 : "taken, but not recorded until the spool has room",
		             csod_escape_to(w->why, why, sizeof why));
		if (n < 0)
			continue;
		n = n < (int)sizeof line ? n : (int)sizeof line - 1;
		if (len + (size_t)n + 1 > cap) {
			cap = (len + (size_t)n + 1) * 2;
			char *grown = realloc(text, cap);
			if (!grown)
				break;
			text = grown;
		}
		memcpy(text + len, line, (size_t)n + 1);
		len += (size_t)n;
	}
	if (!text) {
		unlink(path);
		return 0;
	}
	csod_spool_path(d, tmp, sizeof tmp, "%s", d->tmp_rel);
	csod_error err;
	int rc = csod_write_file_atomic(tmp, path, text, len, 0644, &err);
	free(text);
	if (rc < 0 && !csod_error_no_space(&err)) {
		csod_log(LOG_ERR, NULL, "%s", err.msg);
		return 0; /* not for want of space: trying again would not help */
	}
	return rc;
}

static void write_notes(csod_daemon *d)
{
	csod_space *s = d->space;
	int kept = 0;
	for (int i = 0; i < s->n_dirty; i++)
		if (write_note(d, s->dirty[i]) < 0)
			memmove(s->dirty[kept++], s->dirty[i], sizeof s->dirty[0]);
	s->n_dirty = kept;
}

static void retry_approval(csod_daemon *d, const csod_room *room, const char *id,
                           const char *approver, const char *message)
{
	if (csod_room_fits(room, 0, 0, NULL, 0) != 1)
		return;
	csod_request r;
	int found = csod_request_load(d->db, id, &r);
	if (found == 0 && strcmp(r.state, "created") == 0) {
		csod_space_trying(d, CSOD_WAIT_APPROVE, id, NULL, NULL);
		csod_dispatch_approve(d, &r, approver, message ? message : "");
	} else if (found >= 0) {
		csod_space_done(d, CSOD_WAIT_APPROVE, id, NULL, NULL);
	}
	csod_request_free(&r);
}

/* One try of w (a copy: the list changes under it). */
static void retry(csod_daemon *d, const csod_room *room, const space_wait *w)
{
	switch (w->kind) {
	case CSOD_WAIT_DROP:
		csod_intake_drop(d, w->developer, w->entry, 0);
		break;
	case CSOD_WAIT_INTAKE:
		csod_intake_resume(d, w->id, w->developer, w->entry);
		break;
	case CSOD_WAIT_SIGN:
		csod_dispatch(d, w->id);
		break;
	case CSOD_WAIT_APPROVE:
		retry_approval(d, room, w->id, w->approver, w->message);
		break;
	}
}

int64_t csod_space_tick(csod_daemon *d, int64_t now)
{
	csod_space *s = d->space;
	if (!d->views_failed && (!s || (s->n == 0 && s->n_dirty == 0)))
		return -1;
	if (!(s = space_of(d)))
		return -1;
	if (now < s->next_ms)
		return s->next_ms - now;
	s->next_ms = now + CSOD_SPACE_RETRY_MS;
	csod_room room;
	if (csod_room_read(d, &room) < 0 || room.avail <= 0)
		return CSOD_SPACE_RETRY_MS;
	if (d->views_failed) {
		d->views_failed = 0;
		csod_views_retry(d);
	}
	/* Oldest first; each is tried once per tick however the list changes. */
	unsigned round = ++s->round;
	for (int i = 0; i < s->n; i++) {
		space_wait *w = &s->waits[i];
		if (w->trying || w->round == round || now < w->not_before_ms)
			continue;
		w->round = round;
		space_wait copy = *w;
		copy.message = w->message ? strdup(w->message) : NULL;
		retry(d, &room, &copy);
		free(copy.message);
		i = -1;
	}
	write_notes(d);
	return CSOD_SPACE_RETRY_MS;
}

void csod_space_stop(csod_daemon *d)
{
	csod_space *s = d->space;
	if (!s)
		return;
	for (int i = 0; i < s->n; i++)
		free(s->waits[i].message);
	free(s->waits);
	free(s->dirty);
	free(s);
	d->space = NULL;
}
