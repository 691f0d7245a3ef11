/* sd_notify for csodd (service.h). */
#include "service.h"

#include <stdlib.h>

#include <systemd/sd-daemon.h>

void csod_service_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void csod_service_reloading(void)
{
	sd_notify(0, "RELOADING=1\nSTATUS=reloading the configuration");
}

void csod_service_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void csod_service_status(const char *status)
{
	sd_notifyf(0, "STATUS=%s", status);
}

int64_t csod_service_watchdog_ms(void)
{
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	/* Fed twice per interval, as sd_watchdog_enabled(3) advises. */
	int64_t ms = (int64_t)(usec / 2000);
	return ms > 0 ? ms : 1;
}

void csod_service_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}
