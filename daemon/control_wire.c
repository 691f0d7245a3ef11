#include "control_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/fsutil.h"

int csod_control_socket_path(const csod_config *cfg, const char *spool, char *buf, size_t len)
{
	/* 107: what sun_path holds besides its NUL. */
	size_t room = len < 108 ? len : 108;
	if (cfg->control_socket)
		return csod_path(buf, room, "%s", cfg->control_socket);
	return csod_path(buf, room, "%s/run/csod.sock", spool);
}

int csod_wire_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		/* send() on a socket: a client gone is EPIPE, not a SIGPIPE. */
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int csod_wire_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = 0;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_header(int fd, int tag, size_t len)
{
	unsigned char head[5];
	uint32_t n = htonl((uint32_t)len);
	head[0] = (unsigned char)tag;
	memcpy(head + 1, &n, 4);
	return csod_wire_write_all(fd, head, sizeof head);
}

int csod_wire_send(int fd, int tag, const void *data, size_t len)
{
	const char *p = data;
	do {
		size_t n = len < CSOD_WIRE_MAX_DATA ? len : CSOD_WIRE_MAX_DATA;
		if (send_header(fd, tag, n) < 0 || csod_wire_write_all(fd, p, n) < 0)
			return -1;
		p += n;
		len -= n;
	} while (len > 0);
	return 0;
}

int csod_wire_send_exit(int fd, int status)
{
	uint32_t n = htonl((uint32_t)status);
	return csod_wire_send(fd, CSOD_WIRE_EXIT, &n, 4);
}

static int read_u32(int fd, uint32_t *out)
{
	uint32_t n;
	if (csod_wire_read_all(fd, &n, 4) < 0)
		return -1;
	*out = ntohl(n);
	return 0;
}

static int read_failed(csod_error *err, const char *what)
{
	if (errno == 0)
		return csod_fail(err, "the connection ended in the middle of %s", what);
	return csod_fail_errno(err, "cannot read %s", what);
}

int csod_wire_read_frame(int fd, int *tag, char *buf, size_t *len, csod_error *err)
{
	unsigned char t;
	uint32_t n;
	if (csod_wire_read_all(fd, &t, 1) < 0) {
		if (errno == 0)
			return csod_fail(err, "the connection ended without an answer");
		return csod_fail_errno(err, "cannot read the answer");
	}
	if (read_u32(fd, &n) < 0)
		return read_failed(err, "an answer");
	if (n > CSOD_WIRE_MAX_DATA)
		return csod_fail(err, "an answer's frame of %u bytes (at most %d)", (unsigned)n,
		                 CSOD_WIRE_MAX_DATA);
	if (csod_wire_read_all(fd, buf, n) < 0)
		return read_failed(err, "an answer");
	*tag = t;
	*len = n;
	return 0;
}

int csod_wire_send_request(int fd, int argc, char *const *argv)
{
	uint32_t n = htonl((uint32_t)argc);
	if (csod_wire_write_all(fd, CSOD_WIRE_MAGIC, 4) < 0 || csod_wire_write_all(fd, &n, 4) < 0)
		return -1;
	for (int i = 0; i < argc; i++) {
		size_t len = strlen(argv[i]);
		n = htonl((uint32_t)len);
		if (csod_wire_write_all(fd, &n, 4) < 0 || csod_wire_write_all(fd, argv[i], len) < 0)
			return -1;
	}
	return 0;
}

void csod_wire_free_args(char **argv)
{
	for (int i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

int csod_wire_read_request(int fd, int *argc, char ***argv, csod_error *err)
{
	char magic[4];
	uint32_t n;
	*argv = NULL;
	if (csod_wire_read_all(fd, magic, 4) < 0 || read_u32(fd, &n) < 0)
		return read_failed(err, "the request");
	if (memcmp(magic, CSOD_WIRE_MAGIC, 4) != 0)
		return csod_fail(err, "not a csodctl request");
	if (n > CSOD_WIRE_MAX_ARGS)
		return csod_fail(err, "%u arguments (at most %d)", (unsigned)n, CSOD_WIRE_MAX_ARGS);
	char **args = calloc(n + 1, sizeof *args);
	if (!args)
		return csod_fail(err, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len;
		if (read_u32(fd, &len) < 0) {
			int e = errno;
			csod_wire_free_args(args);
			errno = e;
			return read_failed(err, "the request");
		}
		if (len > CSOD_WIRE_MAX_ARG) {
			csod_wire_free_args(args);
			return csod_fail(err, "an argument of %u bytes (at most %d)", (unsigned)len,
			                 CSOD_WIRE_MAX_ARG);
		}
		args[i] = malloc(len + 1);
		if (!args[i] || csod_wire_read_all(fd, args[i], len) < 0) {
			int e = errno, failed_read = args[i] != NULL;
			csod_wire_free_args(args);
			errno = e;
			return failed_read ? read_failed(err, "the request")
			                   : csod_fail(err, "out of memory");
		}
		args[i][len] = '\0';
		if (memchr(args[i], '\0', len)) {
			csod_wire_free_args(args);
			return csod_fail(err, "an argument holds a NUL byte");
		}
	}
	*argc = (int)n;
	*argv = args;
	return 0;
}
