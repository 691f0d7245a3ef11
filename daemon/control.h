/* The control socket: how csodctl reaches csodd. A Unix stream socket, mode
 * 0666 (who may do what is decided by the caller's uid, which the kernel
 * vouches for with SO_PEERCRED, never by anything the caller sends). For
 * each connection csodd starts csodctl in server mode (`csodctl --serve
 * --caller-uid UID`) as its own user, with the connection as its standard
 * input: that process reads the request, checks it against the caller's
 * role and scope, and answers (control_wire.h). Nothing of this blocks the
 * event loop: csodd only accepts, starts, reaps and times out. */
#ifndef CSOD_CONTROL_H
#define CSOD_CONTROL_H

#include <stdint.h>

#include "config.h"

typedef struct csod_control csod_control;

/* Binds the socket of cfg (control_socket, or <spool>/run/csod.sock; spool
 * is the resolved spool) and finds csodctl beside csodd. A socket left by a
 * crash is replaced; one where another process answers is an error. A
 * default path too long for a socket is logged, and csodd runs without.
 * config_path and spool_override are passed on to each csodctl. */
csod_control *csod_control_open(const csod_config *cfg, const char *spool, const char *config_path,
                                const char *spool_override, csod_error *err);

/* For the event loop's epoll: readable when a client connects or a csodctl
 * ends. -1 for a NULL control. */
int csod_control_fd(const csod_control *c);

/* Accepts connections, starts their csodctl, reaps those that ended. */
void csod_control_on_events(csod_control *c, int64_t now_ms);

/* Kills a csodctl that ran over its time. Returns the milliseconds until
 * the next such deadline, or -1 when none. */
int64_t csod_control_tick(csod_control *c, int64_t now_ms);

/* Ends the running csodctls, removes the socket. */
void csod_control_close(csod_control *c);

#endif
