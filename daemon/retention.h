/* Signed outputs live `retention` (default 3 days) in the outbox, then are
 * removed; the request becomes expired and its record and audit stay. */
#ifndef CSOD_RETENTION_H
#define CSOD_RETENTION_H

#include <stdint.h>

#include "daemon.h"

/* Expires what is due; returns the epoch second of the next expiry, or 0
 * when nothing is waiting. */
int64_t csod_retention_run(csod_daemon *d);

#endif
