/* Settle tracking, apart from inotify so it can be tested with a fake
 * clock: when is a drop complete? */
#ifndef CSOD_SETTLE_H
#define CSOD_SETTLE_H

#include <stdint.h>

/* What a look at a drop found. Two looks that compare equal mean nothing
 * was written in between. */
typedef struct csod_drop_sig {
	int exists;
	int is_dir;
	int64_t size;     /* file size, or the sum over a folder's files */
	int64_t mtime_ns; /* newest mtime */
	int64_t entries;  /* folder: number of entries */
	int has_ready;    /* folder: holds READY */
	int has_temp;     /* folder: holds a file with an in-progress name */
} csod_drop_sig;

int csod_drop_sig_equal(const csod_drop_sig *a, const csod_drop_sig *b);

/* Names a drop in progress carries: ".x", "~$x", "x.tmp", "x.part",
 * "x.partial", "x.crdownload". */
int csod_name_ignored(const char *name);

typedef struct csod_settle {
	csod_drop_sig sig;      /* at the last look */
	csod_drop_sig reported; /* when it was last handed over */
	int64_t last_change_ms; /* last event or seen change */
	int by_event;           /* inotify has told us about its writes */
	int now;                /* arrived by rename, or READY: no waiting */
	int was_reported;
} csod_settle;

/* A drop first seen at now_ms with signature sig. */
void csod_settle_init(csod_settle *s, const csod_drop_sig *sig, int64_t now_ms);

/* inotify said it changed. */
void csod_settle_event(csod_settle *s, int64_t now_ms);

/* It arrived by rename (complete by construction). */
void csod_settle_arrived(csod_settle *s, int64_t now_ms);

/* A fresh look (tick or scan). Returns 1 when the drop should be handed over
 * now: it exists, is not what was handed over already, and is complete
 * (arrived by rename, READY, or quiet for settle_ms with no temporary files
 * inside). */
int csod_settle_check(csod_settle *s, const csod_drop_sig *now_sig, int64_t now_ms,
                      int64_t settle_ms);

/* Milliseconds until it is worth another look; -1 for never (handed over). */
int64_t csod_settle_due(const csod_settle *s, int64_t now_ms, int64_t settle_ms);

#endif
