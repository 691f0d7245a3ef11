/* A client of ClamAV's scanner daemon, clamd, over its socket protocol
 * (clamd(8), "zINSTREAM"): a file is streamed to it in length-prefixed
 * chunks, never whole in memory, and clamd answers with a verdict. This
 * blocks (up to its time limit): call it on a worker thread. */
#ifndef CSOD_CLAMD_H
#define CSOD_CLAMD_H

#include <stddef.h>

#include "../lib/error.h"

/* Where clamd listens: exactly one of the two is set. */
typedef struct csod_clamd_target {
	const char *socket; /* a Unix socket (clamd.conf LocalSocket) */
	const char *tcp;    /* "host:port" or "[v6]:port" (TCPAddr, TCPSocket) */
} csod_clamd_target;

typedef enum {
	CSOD_CLAMD_CLEAN,
	CSOD_CLAMD_FOUND, /* signature names what clamd found */
	CSOD_CLAMD_ERROR, /* the scan could not be made: err says why */
} csod_clamd_result;

/* Splits "host:port" ("[::1]:3310" for IPv6): 0, or -1 when it is not of
 * that form or the port is not 1-65535. */
int csod_clamd_tcp_split(const char *address, char *host, size_t host_len, char *port,
                         size_t port_len);

/* Streams what fd holds (from its current offset) to clamd and returns its
 * verdict. The whole exchange must end within timeout_s; cancel_fd (-1:
 * none) becoming readable ends it early. A reply that is neither "OK" nor
 * "FOUND" (clamd's StreamMaxLength exceeded, a database error) is an
 * error, never a pass. */
csod_clamd_result csod_clamd_scan_fd(const csod_clamd_target *t, int fd, int timeout_s,
                                     int cancel_fd, char *signature, size_t sig_len,
                                     csod_error *err);

/* Reads clamd's reply to INSTREAM (NUL and newline removed; cut in
 * place): "stream: OK", "stream: <signature> FOUND", anything else an
 * error whose reason err gives. */
csod_clamd_result csod_clamd_parse_reply(char *reply, char *signature, size_t sig_len,
                                         csod_error *err);

/* Asks clamd for its version (zVERSION): 0 with the answer in out, or -1. */
int csod_clamd_version(const csod_clamd_target *t, int timeout_s, char *out, size_t len,
                       csod_error *err);

#endif
