/* The part of the pre-sign checks that runs on a worker thread: ClamAV
 * over each file of the store copy, then the policy hook. It reads nothing
 * of the daemon's shared state: the job carries copies of the request and
 * of the settings (a reload may free the configuration meanwhile). */
#ifndef CSOD_CHECK_JOB_H
#define CSOD_CHECK_JOB_H

#include <limits.h>

#include "request.h"

typedef struct csod_check_job {
	csod_request r;       /* in: the request and its files; out: its verdicts */
	char store[PATH_MAX]; /* store/<id>: the bytes that will be signed */
	char list[PATH_MAX];  /* tmp/<id>.files: the hook's file list */
	char *clamav_socket, *clamav_tcp;
	int clamav_timeout_s;
	char **policy_command; /* NULL-ended copy */
	int policy_timeout_s;
	int cancel_fd; /* readable when csodd stops */
	int cancelled; /* out: stopped before every check had its say */
	int tampered;  /* out: the store copy changed while checked */
	char tamper_reason[400];
} csod_check_job;

/* Worker entry: fills r.verdicts. */
void csod_check_job_run(void *job);
void csod_check_job_free(void *job);

#endif
