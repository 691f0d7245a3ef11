/* The part of an intake that touches file contents: copying a drop's files
 * into the store while hashing them, and checking each is signable. It runs
 * on an intake thread, so one large drop never holds up the others; it
 * reads nothing of the daemon's shared state (the job carries copies). */
#ifndef CSOD_INTAKE_JOB_H
#define CSOD_INTAKE_JOB_H

#include <limits.h>
#include <sys/stat.h>

#include "progress.h"
#include "request.h"

typedef struct csod_intake_job {
	/* In: id, developer, drop name, the developer's defaults. Out: the
	 * files with their hashes and what request.conf set. */
	csod_request r;
	char incoming[PATH_MAX]; /* store/incoming/<id>.<developer> */
	char work[PATH_MAX];     /* tmp/<id>.intake: the copy being made */
	char store[PATH_MAX];    /* store/<id>: the copy, once complete */
	char spool[PATH_MAX];    /* for the request's outbox folder (progress) */
	csod_progress progress;  /* "receiving": registered while files are copied */
	int progress_on;
	int64_t received; /* bytes of the drop's earlier files */
	uid_t owner;      /* the developer's uid: their inbox's owner */
	int64_t max_file_size;
	int64_t max_request_files;
	int64_t need; /* bytes its copy was counted to take (space.h) */
	int rc;       /* -1 with err set: refused (or refused before it ran) */
	int no_space; /* ... because the spool was full: to be tried again */
	csod_error err;
} csod_intake_job;

/* Worker entry: builds store/<id> from incoming/<drop name>, or fails with the reason and
 * leaves neither work nor store behind. */
void csod_intake_job_run(void *job);

/* 0 when st (name, a drop or an entry of one) belongs to the developer
 * (owner) or to the daemon (if that is root, a file only if anyone may
 * read it); else -1 with the reason. Anything else was
 * moved in from another user: read with the daemon's rights, its content
 * would reach the developer (signed, or as hashes) though they could not
 * read it. */
int csod_drop_owner_check(const struct stat *st, uid_t owner, const char *name,
                          const char *developer, csod_error *err);
void csod_intake_job_free(void *job);

#endif
