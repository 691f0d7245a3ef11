/* The socket under an SMTP session. libesmtp neither hands it out nor takes
 * a cancel, and its blocking calls wait out a whole timeout; so when it
 * connects, the sender thread finds the socket and keeps a duplicate, which
 * csodd's stop shuts down: the session's next read fails at once. */
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "mail_session.h"

void csod_mail_abort_init(csod_mail_abort *a)
{
	pthread_mutex_init(&a->lock, NULL);
	a->fd = -1;
	a->aborted = 0;
}

void csod_mail_abort_destroy(csod_mail_abort *a)
{
	csod_mail_session_detach(a);
	pthread_mutex_destroy(&a->lock);
}

void csod_mail_abort_now(csod_mail_abort *a)
{
	pthread_mutex_lock(&a->lock);
	a->aborted = 1;
	if (a->fd >= 0)
		shutdown(a->fd, SHUT_RDWR);
	pthread_mutex_unlock(&a->lock);
}

int csod_mail_aborted(csod_mail_abort *a)
{
	pthread_mutex_lock(&a->lock);
	int aborted = a->aborted;
	pthread_mutex_unlock(&a->lock);
	return aborted;
}

static int peer_port(int fd)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof peer;
	if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0)
		return -1;
	if (peer.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&peer)->sin_port);
	if (peer.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&peer)->sin6_port);
	return -1;
}

/* libesmtp's socket, just connected: a non-blocking TCP stream to the
 * server's port. Only the sender thread speaks SMTP, so there is one such
 * socket; -1 if there is none, or more than one (nothing to guess). */
static int find_session_socket(int port)
{
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		return -1;
	int found = -1, n = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		struct stat st;
		int type = 0;
		socklen_t len = sizeof type;
		if (e->d_name[0] == '.' || *end || fd == dirfd(dir) || fstat((int)fd, &st) < 0 ||
		    !S_ISSOCK(st.st_mode) ||
		    getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
		    type != SOCK_STREAM || peer_port((int)fd) != port ||
		    !(fcntl((int)fd, F_GETFL) & O_NONBLOCK))
			continue;
		found = (int)fd;
		n++;
	}
	closedir(dir);
	return n == 1 ? found : -1;
}

void csod_mail_session_attach(csod_mail_abort *a, int port)
{
	csod_mail_session_detach(a); /* a previous address's, if any */
	int fd = find_session_socket(port);
	int mine = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	pthread_mutex_lock(&a->lock);
	a->fd = mine;
	if (a->aborted && mine >= 0)
		shutdown(mine, SHUT_RDWR); /* the stop came while connecting */
	pthread_mutex_unlock(&a->lock);
}

void csod_mail_session_detach(csod_mail_abort *a)
{
	pthread_mutex_lock(&a->lock);
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	pthread_mutex_unlock(&a->lock);
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A TLS 1.3 server sends its session tickets after the handshake, unasked.
 * libesmtp 1.1 polls for reading and writing at once after queueing EHLO,
 * and handles "readable" first: when the tickets are already there it
 * waits for EHLO's answer with EHLO still in its buffer, unsent, until the
 * timeout. So they are read here, before EHLO is queued: wait for the first
 * of them (a round trip; at most SETTLE_MS when the server sends none),
 * then for the rest of that flight. */
#define SETTLE_MS 250
#define FLIGHT_MS 20

void csod_mail_tls_settle(SSL *ssl)
{
	if (SSL_version(ssl) < TLS1_3_VERSION)
		return;
	int fd = SSL_get_fd(ssl);
	int64_t deadline = monotonic_ms() + SETTLE_MS;
	for (int got = 0;;) {
		int64_t left = got ? FLIGHT_MS : deadline - monotonic_ms();
		struct pollfd p = {fd, POLLIN, 0};
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		char c;
		/* SSL_get_error reads this thread's error queue: keep it empty
		 * for ours and for libesmtp's. */
		ERR_clear_error();
		int n = SSL_peek(ssl, &c, 1);
		int why = SSL_get_error(ssl, n);
		ERR_clear_error();
		if (n > 0 || why != SSL_ERROR_WANT_READ)
			break; /* data, or the end: libesmtp reads it */
		got = 1;
	}
}
