/* Runs an administrator's program (ca.command, checks.policy.command)
 * under a time limit, in its own process group so that a time-out, or
 * csodd's stop, kills everything it started. Blocks until the program has
 * ended: call it on a worker thread, never on the event loop. */
#ifndef CSOD_RUN_COMMAND_H
#define CSOD_RUN_COMMAND_H

#include <stddef.h>

#include "../lib/error.h"

#define CSOD_RUN_STDERR_MAX 400

typedef struct csod_run {
	const char *const *argv; /* argv[0] is the program's path; no shell */
	const char *const *env;  /* NAME=value entries added to csodd's environment
	                          * (replacing the same names); NULL-ended, may be NULL */
	const char *input;       /* standard input (at most a pipe's buffer), or NULL */
	const char *cwd;         /* working directory; NULL: csodd's */
	int timeout_s;
	int cancel_fd;     /* readable = stop now (csodd stops); -1: none */
	size_t max_output; /* more on standard output ends the run */
} csod_run;

typedef enum {
	CSOD_RUN_DONE,      /* it exited: see status */
	CSOD_RUN_TIMED_OUT, /* killed after timeout_s */
	CSOD_RUN_TOO_BIG,   /* printed more than max_output: killed */
	CSOD_RUN_CANCELLED, /* killed: cancel_fd */
} csod_run_end;

typedef struct csod_run_result {
	csod_run_end end;
	int status;   /* waitpid's, when DONE */
	char *output; /* standard output, NUL-ended (malloc'd) */
	size_t len;
	char errtext[CSOD_RUN_STDERR_MAX + 1]; /* the first line of standard error */
} csod_run_result;

/* 0 when the program ran (whatever its end: see res), -1 with err when it
 * could not be started (err names the program and the reason). */
int csod_run_command(const csod_run *run, csod_run_result *res, csod_error *err);
void csod_run_result_free(csod_run_result *res);

/* "exit status 3" or "signal 9" for a waitpid status. */
void csod_run_status_text(int status, char *out, size_t len);

#endif
