/* ca.command off the event loop: every order's command runs on a thread of
 * a small pool of its own (workers.h); the outcome comes back through the
 * pool's eventfd and the loop thread checks and records it (only the loop
 * touches the database). A stop kills the commands still running; their
 * orders stay `requested` and run again at the next start. */
#ifndef CSOD_CA_COMMAND_JOBS_H
#define CSOD_CA_COMMAND_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

typedef struct csod_ca_job {
	int64_t order_id;
	char order_no[32];
	char *command, *csr, *email;
	int timeout_s;
	int cancel_fd; /* the pool's: readable once csodd stops */
	/* The outcome, set on the worker thread. */
	int rc;
	char *answer; /* standard output when rc == 0 */
	size_t answer_len;
	csod_error err; /* why when rc < 0 */
} csod_ca_job;

typedef struct csod_ca_jobs csod_ca_jobs;

csod_ca_jobs *csod_ca_jobs_start(void);
/* Kills the running commands, waits for their threads, drops the rest. */
void csod_ca_jobs_stop(csod_ca_jobs *jobs);
int csod_ca_jobs_fd(const csod_ca_jobs *jobs);

/* The loop thread submits and takes. */
int csod_ca_jobs_submit(csod_ca_jobs *jobs, int64_t order_id, const char *order_no,
                        const char *command, const char *csr, const char *email, int timeout_s);
/* A finished job (free it with csod_ca_job_free), or NULL. */
csod_ca_job *csod_ca_jobs_take(csod_ca_jobs *jobs);
void csod_ca_job_free(csod_ca_job *job);

#endif
