#ifndef CSOD_LOOP_H
#define CSOD_LOOP_H

#include "config.h"

/* Runs the daemon until SIGTERM or SIGINT. Takes ownership of cfg;
 * config_path and spool_override are kept for SIGHUP reloads. */
int csod_daemon_run(csod_config *cfg, const char *config_path, const char *spool_override);

#endif
