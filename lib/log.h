/* Logging to stderr (foreground) or syslog. Every line about a request
 * carries its id, so `journalctl | grep ID` tells a request's whole story. */
#ifndef CSOD_LOG_H
#define CSOD_LOG_H

#include <syslog.h>

/* CSOD_LOG_JOURNAL: stderr connected to journald (systemd sets
 * JOURNAL_STREAM to that stream's device:inode): each line starts with its
 * syslog priority as "<3>", which journald stores as the entry's priority
 * (so `journalctl -p err` finds errors), and carries no time or name of its
 * own, which journald adds. */
enum csod_log_target { CSOD_LOG_STDERR, CSOD_LOG_SYSLOG, CSOD_LOG_JOURNAL };

/* CSOD_LOG_STDERR when stderr is not journald's stream, else
 * CSOD_LOG_JOURNAL. */
enum csod_log_target csod_log_stderr_target(void);

void csod_log_open(const char *ident, enum csod_log_target target, int min_level);
enum csod_log_target csod_log_target(void);

/* level is a syslog priority (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG).
 * request_id may be NULL for lines not about one request. */
void csod_log(int level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
