/* Telling systemd how the daemon is doing (sd_notify): ready once the
 * start-up scan is done, reloading and ready again around a reload, stopping,
 * a one-line status, and the watchdog fed from the event loop, so that a
 * loop that hangs is restarted. Without a service manager (NOTIFY_SOCKET
 * unset: the demo, tests) every call does nothing. */
#ifndef CSOD_SERVICE_H
#define CSOD_SERVICE_H

#include <stdint.h>

void csod_service_ready(const char *status);
void csod_service_reloading(void);
void csod_service_stopping(void);
void csod_service_status(const char *status);

/* The watchdog's interval in ms (half of WatchdogSec=), 0 when it is off. */
int64_t csod_service_watchdog_ms(void);
void csod_service_watchdog(void);

#endif
