#include "settle.h"

#include <string.h>

int csod_drop_sig_equal(const csod_drop_sig *a, const csod_drop_sig *b)
{
	return a->exists == b->exists && a->is_dir == b->is_dir && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->entries == b->entries &&
	       a->has_ready == b->has_ready && a->has_temp == b->has_temp;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

int csod_name_ignored(const char *name)
{
	return name[0] == '.' || strncmp(name, "~$", 2) == 0 || ends_with(name, ".tmp") ||
	       ends_with(name, ".part") || ends_with(name, ".partial") ||
	       ends_with(name, ".crdownload");
}

void csod_settle_init(csod_settle *s, const csod_drop_sig *sig, int64_t now_ms)
{
	memset(s, 0, sizeof *s);
	s->sig = *sig;
	s->last_change_ms = now_ms;
}

void csod_settle_event(csod_settle *s, int64_t now_ms)
{
	s->last_change_ms = now_ms;
	s->by_event = 1;
}

void csod_settle_arrived(csod_settle *s, int64_t now_ms)
{
	s->last_change_ms = now_ms;
	s->now = 1;
}

int csod_settle_check(csod_settle *s, const csod_drop_sig *now_sig, int64_t now_ms,
                      int64_t settle_ms)
{
	if (!now_sig->exists)
		return 0;
	int changed = !csod_drop_sig_equal(&s->sig, now_sig);
	s->sig = *now_sig;
	if (s->was_reported) {
		/* Still there after it was handed over: only a change counts. */
		if (csod_drop_sig_equal(&s->reported, now_sig))
			return 0;
		s->was_reported = 0;
		s->last_change_ms = now_ms;
		return 0;
	}
	int ready = s->now || (now_sig->is_dir && now_sig->has_ready);
	if (!ready) {
		if (changed && !s->by_event) {
			/* Seen to change by looking (no inotify): start over. */
			s->last_change_ms = now_ms;
			return 0;
		}
		if (now_ms - s->last_change_ms < settle_ms)
			return 0;
		if (now_sig->is_dir && now_sig->has_temp) {
			/* Still uploading inside: look again a settle period later. */
			s->last_change_ms = now_ms;
			return 0;
		}
	}
	s->was_reported = 1;
	s->reported = *now_sig;
	s->now = 0;
	s->by_event = 0;
	return 1;
}

int64_t csod_settle_due(const csod_settle *s, int64_t now_ms, int64_t settle_ms)
{
	if (s->was_reported)
		return -1;
	if (s->now || (s->sig.is_dir && s->sig.has_ready))
		return 0;
	int64_t due = s->last_change_ms + settle_ms - now_ms;
	return due < 0 ? 0 : due;
}
