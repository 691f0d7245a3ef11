#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "text.h"

static enum csod_log_target log_target = CSOD_LOG_STDERR;
static int log_min_level = LOG_INFO;
static const char *log_ident = "csod";

void csod_log_open(const char *ident, enum csod_log_target target, int min_level)
{
	log_ident = ident;
	log_target = target;
	log_min_level = min_level;
	if (target == CSOD_LOG_SYSLOG)
		openlog(ident, LOG_PID, LOG_DAEMON);
}

enum csod_log_target csod_log_stderr_target(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino)
		return CSOD_LOG_JOURNAL;
	return CSOD_LOG_STDERR;
}

enum csod_log_target csod_log_target(void)
{
	return log_target;
}

static const char *level_name(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void csod_log(int level, const char *request_id, const char *fmt, ...)
{
	if (level > log_min_level)
		return;
	char raw[2048], line[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	/* One entry is one line: a name or a message quoted in it cannot start
	 * a forged entry of its own or send escapes to a terminal. A line end
	 * that closes a quoted answer (an SMTP server's) is only dropped. */
	size_t n = strlen(raw);
	while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r'))
		raw[--n] = '\0';
	csod_escape_to(raw, line, sizeof line);
	if (log_target == CSOD_LOG_SYSLOG) {
		if (request_id)
			syslog(level, "[%s] %s", request_id, line);
		else
			syslog(level, "%s", line);
		return;
	}
	if (log_target == CSOD_LOG_JOURNAL) {
		fprintf(stderr, "<%d>%s%s%s%s\n", level & LOG_PRIMASK, request_id ? "[" : "",
		        request_id ? request_id : "", request_id ? "] " : "", line);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[32];
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s %s: %s%s%s%s\n", when, ts.tv_nsec / 1000000, log_ident,
	        level_name(level), request_id ? "[" : "", request_id ? request_id : "",
	        request_id ? "] " : "", line);
}
