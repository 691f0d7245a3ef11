/* Room on the spool. Every intake and every signing takes space on the
 * spool's one filesystem (the store copy, the signed outputs, the
 * database), and a full disk must neither lose a drop nor leave a request
 * half done. So work is started only when the spool has room for it
 * beyond a reserve (min_free_space), counting what running jobs have
 * claimed; and work that still ran out of space (ENOSPC, a full database)
 * waits in this module's list and is tried again by the running daemon,
 * every CSOD_SPACE_RETRY_MS, once the spool has room again. */
#ifndef CSOD_SPACE_H
#define CSOD_SPACE_H

#include <stdint.h>

#include "daemon.h"

#define CSOD_SPACE_RETRY_MS 2000
/* Tries that ran and ran out of space again before the work is failed;
 * after the n-th, the next waits CSOD_SPACE_RETRY_MS << n (4 s ... 32 s). */
#define CSOD_SPACE_ATTEMPTS 5

typedef enum csod_wait_kind {
	CSOD_WAIT_DROP,    /* inbox/<developer>/<entry>, not taken yet */
	CSOD_WAIT_INTAKE,  /* store/incoming/<id>.<developer>/<entry>, not recorded yet */
	CSOD_WAIT_SIGN,    /* request <id>: to be signed (again), or failed */
	CSOD_WAIT_APPROVE, /* request <id>: to be approved */
} csod_wait_kind;

/* The spool's filesystem as the daemon sees it now. */
typedef struct csod_room {
	int64_t avail;   /* free for the daemon, less what running jobs claimed */
	int64_t total;   /* the filesystem's size */
	int64_t reserve; /* min_free_space, in bytes */
	int64_t block;   /* allocation unit */
} csod_room;

int csod_room_read(const csod_daemon *d, csod_room *room);

/* Whether work that will allocate `need` bytes, on a filesystem where it
 * already holds `held` bytes, may start: 1 now, 0 not now, -1 never (the
 * filesystem is too small for it however much is freed). why (may be NULL)
 * says so in words when the answer is not 1. */
int csod_room_fits(const csod_room *room, int64_t need, int64_t held, char *why, size_t len);

/* What copying drop `name` inside dir_fd (a file, or a folder and the
 * regular files in it) will allocate: each file's st_size rounded up to
 * blocks, whatever it holds now (a sparse file's copy is whole); and what
 * it holds now (st_blocks). Looks only through descriptors, never follows
 * a link. -1 with errno (ENOENT: it is gone). */
int csod_drop_size_at(int dir_fd, const char *name, int64_t block, int64_t *need, int64_t *held);

/* Bytes claimed by work that is running and has not written them yet. */
void csod_space_claim(csod_daemon *d, int64_t bytes);
void csod_space_release(csod_daemon *d, int64_t bytes);

/* Work that waits for space (or for the database): id for requests and
 * intakes, developer and entry for drops and intakes, approver and message
 * for approvals. The first call logs why, once; a drop or intake is also
 * shown to its developer in outbox/<developer>/ERROR while it waits.
 * Returns how many tries of it ran out of space since it first waited. */
int csod_space_wait(csod_daemon *d, csod_wait_kind kind, const char *id, const char *developer,
                    const char *entry, const char *why);
void csod_space_wait_approval(csod_daemon *d, const char *id, const char *approver,
                              const char *message, const char *why);
/* It is being tried now (not to be tried again until it waits again). */
void csod_space_trying(csod_daemon *d, csod_wait_kind kind, const char *id, const char *developer,
                       const char *entry);
/* It no longer waits (done, failed for another reason, or gone). */
void csod_space_done(csod_daemon *d, csod_wait_kind kind, const char *id, const char *developer,
                     const char *entry);

/* The timer: tries what waits when due. Returns the milliseconds until it
 * wants to run again, -1 when nothing waits. */
int64_t csod_space_tick(csod_daemon *d, int64_t now_ms);

void csod_space_stop(csod_daemon *d);

#endif
