/* The audit log: an append-only table where every entry carries the SHA-256
 * of the previous one, so an edited or deleted row breaks the chain.
 * Mirrored to syslog. */
#ifndef CSOD_AUDIT_H
#define CSOD_AUDIT_H

#include "db.h"

/* actor: "csodd", a Unix user name, or "uid:N". action: a dotted verb such as
 * "request.approved". object: a request id, certificate id, user... */
int csod_audit(csod_db *db, const char *actor, const char *action, const char *object,
               const char *detail_fmt, ...) __attribute__((format(printf, 5, 6)));

/* The same with the log line's syslog level (csod_audit logs at
 * LOG_NOTICE): a failure is a warning, so `journalctl -p warning` lists it.
 * Each audited event is logged by this line alone. */
int csod_audit_at(csod_db *db, int level, const char *actor, const char *action, const char *object,
                  const char *detail_fmt, ...) __attribute__((format(printf, 6, 7)));

/* Walks the chain; returns 0 if intact, else -1 with the first bad row in err. */
int csod_audit_verify(csod_db *db, long *rows, csod_error *err);

#endif
