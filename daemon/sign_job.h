/* One request's signing, as a worker thread does it: everything it needs is
 * in the job, so it shares nothing with the event loop. Outputs are signed
 * into tmp/ and checked with the engine's own verifier; only when every
 * file passed does the job go on to be published, with the other jobs that
 * finished about the same time (sign_publish.h). */
#ifndef CSOD_SIGN_JOB_H
#define CSOD_SIGN_JOB_H

#include <limits.h>
#include <stdint.h>

#include "../signers/signer.h"
#include "progress.h"
#include "request.h"

#define CSOD_JOB_NOTES 16

/* A signed output in tmp/, checked but not yet on disk, waiting to be
 * renamed into the outbox under name (sign_publish.h). */
typedef struct csod_staged {
	char tmp[PATH_MAX];
	char name[256];
} csod_staged;

typedef struct csod_sign_job {
	char id[32];
	char service[32];
	csod_request shown; /* id, developer, drop name: for progress only */
	csod_progress progress;
	int64_t signed_bytes; /* of the files before the one being signed */
	char store_dir[PATH_MAX];
	char tmp_dir[PATH_MAX];
	char outbox_dir[PATH_MAX];
	csod_identity identity;
	X509_STORE *trust; /* shared, read-only while jobs run */
	char *chain_pem;
	char digest_names[CSOD_MAX_DIGESTS][16];
	char description[256], url[256]; /* what options point at */
	char timestamp_urls[CSOD_MAX_TSA][512], timestamp_ca[PATH_MAX];
	/* What the timestamping said (which server answered, which failed),
	 * "file: message", for the request's audit trail once the job is
	 * done (sign_job_note). */
	char notes[CSOD_JOB_NOTES][600];
	int note_levels[CSOD_JOB_NOTES];
	int n_notes;
	csod_sign_options options;
	int detached; /* request.conf detached: each signature also as <output>.sig */
	int n_files;
	csod_file *files; /* name in; engine and output filled in */
	int64_t need;     /* room claimed for its outputs (space.h) */
	/* What the worker leaves for publishing: the outputs and chain.pem,
	 * written in tmp/, not yet fsynced or renamed. */
	csod_staged *staged;
	int n_staged, cap_staged;
	char chain_tmp[PATH_MAX];
	int failed;
	int no_space; /* failed because the spool was full: to be tried again */
	csod_error err;
} csod_sign_job;

void csod_sign_job_run(void *job);
/* The timestamp options' note callback: keeps msg in the job. */
void csod_sign_job_note(void *job, int level, const char *msg);
void csod_sign_job_free(void *job);
/* Removes what the job left in tmp/ (its outputs not published). */
void csod_sign_job_drop_staged(csod_sign_job *job);

/* Removes what the job published in the outbox (its outputs and
 * chain.pem), for a request whose signing could not be recorded: the
 * outbox goes back to what it showed before. */
void csod_sign_job_unpublish(const csod_sign_job *job);

#endif
