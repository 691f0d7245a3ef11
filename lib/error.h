/* A fixed-size error message that travels up from where a failure is
 * understood to where it is reported (ERROR file, request.json, log, mail).
 * Fixed size so that setting an error never allocates or fails. */
#ifndef CSOD_ERROR_H
#define CSOD_ERROR_H

#include <stddef.h>

typedef struct csod_error {
	char msg[512];
	int sys_errno; /* errno of a csod_fail_errno failure, else 0 */
} csod_error;

/* Sets err (if non-NULL) to the formatted message; returns -1 so that callers
 * can write `return csod_fail(err, "...")`. */
int csod_fail(csod_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like csod_fail, and appends the most recent OpenSSL error reason, then
 * clears OpenSSL's error queue. */
int csod_fail_ssl(csod_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like csod_fail, and appends strerror(errno). */
int csod_fail_errno(csod_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void csod_error_clear(csod_error *err);

/* Whether err is a full filesystem (ENOSPC, EDQUOT): something to retry
 * once space returns rather than a verdict on the input. */
int csod_error_no_space(const csod_error *err);

#endif
