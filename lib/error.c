#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

static void vset(csod_error *err, const char *fmt, va_list ap)
{
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	err->sys_errno = 0;
}

static void append(csod_error *err, const char *what)
{
	size_t n = strlen(err->msg);
	if (n < sizeof err->msg - 1)
		snprintf(err->msg + n, sizeof err->msg - n, ": %s", what);
}

int csod_fail(csod_error *err, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vset(err, fmt, ap);
	va_end(ap);
	return -1;
}

int csod_fail_ssl(csod_error *err, const char *fmt, ...)
{
	unsigned long e = ERR_peek_last_error();
	char buf[256];
	ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vset(err, fmt, ap);
	va_end(ap);
	if (e) {
		const char *reason = ERR_reason_error_string(e);
		append(err, reason ? reason : buf);
	}
	return -1;
}

int csod_fail_errno(csod_error *err, const char *fmt, ...)
{
	int saved = errno;
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vset(err, fmt, ap);
	va_end(ap);
	append(err, strerror(saved));
	err->sys_errno = saved;
	errno = saved;
	return -1;
}

void csod_error_clear(csod_error *err)
{
	if (err) {
		err->msg[0] = '\0';
		err->sys_errno = 0;
	}
}

int csod_error_no_space(const csod_error *err)
{
	return err && (err->sys_errno == ENOSPC || err->sys_errno == EDQUOT);
}
