/* The control socket's protocol between csodctl (the client) and the
 * csodctl that csodd starts for each connection (the server, see
 * control.h). The client sends one request: the magic "CSC1", the number of
 * arguments, then each argument as a length and its bytes (no NUL). The
 * server answers with frames: a tag byte, a length, the bytes; the last
 * frame is the exit status. Every number is 32 bits, big-endian. */
#ifndef CSOD_CONTROL_WIRE_H
#define CSOD_CONTROL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"
#include "config.h"

#define CSOD_WIRE_MAGIC    "CSC1"
#define CSOD_WIRE_MAX_ARGS 64
#define CSOD_WIRE_MAX_ARG  8192
#define CSOD_WIRE_MAX_DATA 65536 /* the most one frame carries */

enum csod_wire_tag {
	CSOD_WIRE_STDOUT = 'o', /* what the command prints */
	CSOD_WIRE_STDERR = 'e', /* its messages */
	CSOD_WIRE_FILE =
	    'f', /* a download's bytes, for the client to write (first frame may be empty) */
	CSOD_WIRE_NAME = 'n', /* a file of a folder download starts: its name; 'f' frames follow */
	CSOD_WIRE_EXIT = 'x', /* 4 bytes: the exit status; the last frame */
};

/* The socket csodd listens on: control_socket, or <spool>/run/csod.sock
 * (spool as resolved by realpath). -1 if it does not fit. */
int csod_control_socket_path(const csod_config *cfg, const char *spool, char *buf, size_t len);

/* Writes or reads exactly len bytes, through EINTR and short counts (on
 * a socket with send(), so that a peer gone is EPIPE, not SIGPIPE). 0, or
 * -1 (errno set; 0 when read met the end of the stream). */
int csod_wire_write_all(int fd, const void *buf, size_t len);
int csod_wire_read_all(int fd, void *buf, size_t len);

/* Sends data under tag, cut into frames of at most CSOD_WIRE_MAX_DATA. An
 * empty data sends one empty frame. */
int csod_wire_send(int fd, int tag, const void *data, size_t len);
int csod_wire_send_exit(int fd, int status);

/* One frame into buf (of CSOD_WIRE_MAX_DATA bytes): 0 with *tag and *len, or
 * -1 with the reason (also at the end of the stream). */
int csod_wire_read_frame(int fd, int *tag, char *buf, size_t *len, csod_error *err);

int csod_wire_send_request(int fd, int argc, char *const *argv);
/* Reads a request: *argv is NULL-terminated, freed with csod_wire_free_args. */
int csod_wire_read_request(int fd, int *argc, char ***argv, csod_error *err);
void csod_wire_free_args(char **argv);

#endif
