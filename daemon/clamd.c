/* clamd's socket protocol, as its manual gives it: a command prefixed
 * with 'z' ends with a NUL byte and so does clamd's reply. INSTREAM is
 * followed by chunks, each a 4-byte length in network byte order and that
 * many bytes, and a zero length; clamd then answers "stream: OK",
 * "stream: <signature> FOUND" or "<reason> ERROR". clamd reads at most
 * StreamMaxLength bytes of a stream: past that it answers
 * "INSTREAM size limit exceeded. ERROR" and closes the connection, which
 * csod reports as a scan that could not be made. */
#include "clamd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../lib/text.h"
#include "../watchers/watcher.h"

#define CHUNK     (64 * 1024)
#define REPLY_MAX 1024

int csod_clamd_tcp_split(const char *address, char *host, size_t host_len, char *port,
                         size_t port_len)
{
	const char *colon, *start = address, *end;
	if (address[0] == '[') {
		start = address + 1;
		end = strchr(start, ']');
		if (!end || end[1] != ':')
			return -1;
		colon = end + 1;
	} else {
		colon = strrchr(address, ':');
		end = colon;
		if (!colon || memchr(address, ':', (size_t)(colon - address)))
			return -1;
	}
	size_t n = (size_t)(end - start);
	char *stop = NULL;
	long p = strtol(colon + 1, &stop, 10);
	if (n == 0 || n >= host_len || !colon[1] || *stop || p < 1 || p > 65535 ||
	    strlen(colon + 1) >= port_len)
		return -1;
	memcpy(host, start, n);
	host[n] = '\0';
	snprintf(port, port_len, "%s", colon + 1);
	return 0;
}

/* Waits until fd is ready for events, the deadline passes (ETIMEDOUT) or
 * cancel_fd is readable (ECANCELED). */
static int wait_fd(int fd, short events, int64_t deadline, int cancel_fd)
{
	for (;;) {
		int64_t left = deadline - csod_monotonic_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p[2] = {{fd, events, 0}, {cancel_fd, POLLIN, 0}};
		int n = poll(p, 2, (int)(left > 1000 ? 1000 : left));
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0 && p[1].revents) {
			errno = ECANCELED;
			return -1;
		}
		if (n > 0 && p[0].revents)
			return 0;
	}
}

static int connect_one(int family, const struct sockaddr *addr, socklen_t len, int64_t deadline,
                       int cancel_fd)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, addr, len) == 0)
		return fd;
	int soerr = errno;
	socklen_t sl = sizeof soerr;
	if (soerr == EINPROGRESS && wait_fd(fd, POLLOUT, deadline, cancel_fd) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
		return fd;
	if (soerr != EINPROGRESS)
		errno = soerr;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* A connected, non-blocking socket to clamd, or -1 with err set. */
static int clamd_connect(const csod_clamd_target *t, int64_t deadline, int cancel_fd,
                         csod_error *err)
{
	if (t->socket) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		if (strlen(t->socket) >= sizeof sun.sun_path)
			return csod_fail(err, "clamd socket %s: path too long", t->socket);
		memcpy(sun.sun_path, t->socket, strlen(t->socket) + 1);
		int fd =
		    connect_one(AF_UNIX, (struct sockaddr *)&sun, sizeof sun, deadline, cancel_fd);
		if (fd < 0)
			return csod_fail_errno(err, "cannot reach clamd on %s", t->socket);
		return fd;
	}
	char host[256], port[8];
	if (!t->tcp || csod_clamd_tcp_split(t->tcp, host, sizeof host, port, sizeof port) < 0)
		return csod_fail(err, "clamd address \"%s\" is not host:port",
		                 t->tcp ? t->tcp : "");
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *list = NULL;
	int rc = getaddrinfo(host, port, &hints, &list);
	if (rc != 0)
		return csod_fail(err, "cannot reach clamd on %s: %s", t->tcp, gai_strerror(rc));
	int fd = -1;
	errno = ECONNREFUSED;
	for (struct addrinfo *a = list; a && fd < 0; a = a->ai_next)
		fd = connect_one(a->ai_family, a->ai_addr, a->ai_addrlen, deadline, cancel_fd);
	int saved = errno;
	freeaddrinfo(list);
	errno = saved;
	if (fd < 0)
		return csod_fail_errno(err, "cannot reach clamd on %s", t->tcp);
	return fd;
}

static int send_all(int fd, const void *buf, size_t len, int64_t deadline, int cancel_fd)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (wait_fd(fd, POLLOUT, deadline, cancel_fd) < 0)
			return -1;
	}
	return 0;
}

/* clamd's reply, up to its NUL (or the end of the connection), trimmed. */
static int read_reply(int fd, char *out, size_t len, int64_t deadline, int cancel_fd)
{
	size_t got = 0;
	for (;;) {
		ssize_t n = recv(fd, out + got, len - 1 - got, 0);
		if (n > 0) {
			got += (size_t)n;
			if (memchr(out, '\0', got) || got == len - 1)
				break;
			continue;
		}
		if (n == 0)
			break;
		if (errno != EAGAIN && errno != EINTR)
			return got > 0 ? 0 : -1;
		if (wait_fd(fd, POLLIN, deadline, cancel_fd) < 0)
			return -1;
	}
	out[got] = '\0';
	size_t n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	if (n == 0) {
		errno = ECONNRESET;
		return -1;
	}
	return 0;
}

static const char *why(int e)
{
	return e == ETIMEDOUT   ? "no answer in time"
	       : e == ECANCELED ? "csodd is stopping"
	                        : strerror(e);
}

/* Streams fd as INSTREAM chunks and the closing zero length. -1 with
 * errno: a write that failed (clamd may have closed early: its reply says
 * why) or a read of fd that failed (*read_failed). */
static int stream_file(int sock, int fd, int64_t deadline, int cancel_fd, int *read_failed)
{
	unsigned char *buf = malloc(4 + CHUNK);
	if (!buf)
		return -1;
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, buf + 4, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*read_failed = 1;
			rc = -1;
			break;
		}
		uint32_t be = htonl((uint32_t)n);
		memcpy(buf, &be, 4);
		if (send_all(sock, buf, 4 + (size_t)n, deadline, cancel_fd) < 0) {
			rc = -1;
			break;
		}
		if (n == 0)
			break;
	}
	int saved = errno;
	free(buf);
	errno = saved;
	return rc;
}

csod_clamd_result csod_clamd_scan_fd(const csod_clamd_target *t, int fd, int timeout_s,
                                     int cancel_fd, char *signature, size_t sig_len,
                                     csod_error *err)
{
	int64_t deadline = csod_monotonic_ms() + (int64_t)timeout_s * 1000;
	signature[0] = '\0';
	int sock = clamd_connect(t, deadline, cancel_fd, err);
	if (sock < 0)
		return CSOD_CLAMD_ERROR;
	static const char command[] = "zINSTREAM";
	int read_failed = 0, sent_errno = 0;
	if (send_all(sock, command, sizeof command, deadline, cancel_fd) < 0 ||
	    stream_file(sock, fd, deadline, cancel_fd, &read_failed) < 0)
		sent_errno = errno ? errno : EIO;
	if (read_failed || sent_errno == ETIMEDOUT || sent_errno == ECANCELED) {
		close(sock);
		if (read_failed)
			csod_fail(err, "cannot read the store copy: %s", strerror(sent_errno));
		else
			csod_fail(err, "clamd: %s", why(sent_errno));
		return CSOD_CLAMD_ERROR;
	}
	/* Also after a failed write: clamd says why it stopped reading. */
	char reply[REPLY_MAX];
	int got = read_reply(sock, reply, sizeof reply, deadline, cancel_fd);
	int read_errno = errno;
	close(sock);
	if (got < 0) {
		csod_fail(err, "clamd gave no verdict: %s",
		          why(sent_errno ? sent_errno : read_errno));
		return CSOD_CLAMD_ERROR;
	}
	csod_clamd_result res = csod_clamd_parse_reply(reply, signature, sig_len, err);
	/* "OK" about a stream clamd stopped reading is no pass: it saw a part. */
	if (res == CSOD_CLAMD_CLEAN && sent_errno) {
		csod_fail(err, "clamd answered OK after it stopped reading the file (%s)",
		          why(sent_errno));
		return CSOD_CLAMD_ERROR;
	}
	return res;
}

csod_clamd_result csod_clamd_parse_reply(char *reply, char *signature, size_t sig_len,
                                         csod_error *err)
{
	char shown[CSOD_SHOWN_MAX];
	csod_escape_to(reply, shown, sizeof shown);
	static const char prefix[] = "stream: ", found[] = " FOUND";
	size_t n = strlen(reply), p = sizeof prefix - 1, f = sizeof found - 1;
	if (strcmp(reply, "stream: OK") == 0)
		return CSOD_CLAMD_CLEAN;
	if (n > p + f && strncmp(reply, prefix, p) == 0 && strcmp(reply + n - f, found) == 0) {
		reply[n - f] = '\0';
		csod_escape_to(reply + p, signature, sig_len);
		return CSOD_CLAMD_FOUND;
	}
	if (strstr(reply, "size limit exceeded"))
		csod_fail(err,
		          "clamd refused the file: %s (it scans at most StreamMaxLength bytes; "
		          "see clamd.conf)",
		          shown);
	else
		csod_fail(err, "clamd could not scan the file: %s", shown);
	return CSOD_CLAMD_ERROR;
}

int csod_clamd_version(const csod_clamd_target *t, int timeout_s, char *out, size_t len,
                       csod_error *err)
{
	int64_t deadline = csod_monotonic_ms() + (int64_t)timeout_s * 1000;
	int sock = clamd_connect(t, deadline, -1, err);
	if (sock < 0)
		return -1;
	static const char command[] = "zVERSION";
	char reply[REPLY_MAX];
	int rc = send_all(sock, command, sizeof command, deadline, -1) < 0 ||
	                 read_reply(sock, reply, sizeof reply, deadline, -1) < 0
	             ? csod_fail(err, "clamd did not answer VERSION: %s", why(errno))
	             : 0;
	close(sock);
	if (rc == 0)
		csod_escape_to(reply, out, len);
	return rc;
}
