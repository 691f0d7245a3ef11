/* csodctl --serve: the server side of one connection to csodd's control
 * socket (daemon/control.h). csodd starts it as its own user, which may
 * read csod.conf and the database, with the connection as standard input
 * and the caller's uid, which csodd read with SO_PEERCRED. That uid, never
 * getuid() and nothing the client sent, decides the role, the scope and the
 * actor in the audit log. What the command prints goes back in frames
 * (daemon/control_wire.h); a download's bytes too, for the client to write
 * as the calling user. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../daemon/control_wire.h"
#include "../../lib/fsutil.h"
#include "ctl.h"

#define CONN 0 /* the connection: standard input */

/* How long a client has to send its request. */
#define REQUEST_TIMEOUT_S 10
/* How long an answer may wait for a client that does not read it. */
#define ANSWER_TIMEOUT_S 30

/* Whether standard input is what csodd hands over: a connection accepted
 * on a listening Unix socket that this user bound (its local name is a
 * socket file of ours), from an unnamed client whose uid is caller. A user
 * who runs `csodctl --serve --caller-uid 0` has no such thing: a terminal
 * or a pipe is no socket; their own end of a connection to csodd has csodd
 * as its peer and no name, or a name of theirs and csodd's named socket as
 * its peer; and a socket they listen on names no one but who connects. */
static int connection_ok(uid_t caller, char *why, size_t len)
{
	int type = 0, domain = 0;
	socklen_t n = sizeof type, m = sizeof domain;
	if (getsockopt(CONN, SOL_SOCKET, SO_TYPE, &type, &n) < 0 ||
	    getsockopt(CONN, SOL_SOCKET, SO_DOMAIN, &domain, &m) < 0 || type != SOCK_STREAM ||
	    domain != AF_UNIX) {
		snprintf(why, len, "standard input is not a Unix stream socket");
		return -1;
	}
	struct sockaddr_un local, peer;
	char path[sizeof local.sun_path + 1];
	socklen_t ln = sizeof local, pn = sizeof peer;
	memset(&local, 0, sizeof local);
	if (getsockname(CONN, (struct sockaddr *)&local, &ln) < 0 ||
	    ln <= offsetof(struct sockaddr_un, sun_path) || local.sun_path[0] == '\0') {
		snprintf(why, len, "standard input is not a connection accepted on a named socket");
		return -1;
	}
	snprintf(path, sizeof path, "%.*s", (int)sizeof local.sun_path, local.sun_path);
	if (getpeername(CONN, (struct sockaddr *)&peer, &pn) < 0 ||
	    pn > offsetof(struct sockaddr_un, sun_path)) {
		snprintf(why, len,
		         "the other end of standard input has a name (csodd's "
		         "clients have none)");
		return -1;
	}
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_uid != getuid()) {
		snprintf(why, len, "%s is not a socket of uid %u", path, (unsigned)getuid());
		return -1;
	}
	struct ucred cred;
	n = sizeof cred;
	if (getsockopt(CONN, SOL_SOCKET, SO_PEERCRED, &cred, &n) < 0 || cred.uid != caller) {
		snprintf(why, len, "the other end of the connection is not uid %u",
		         (unsigned)caller);
		return -1;
	}
	if (geteuid() != getuid()) {
		snprintf(why, len, "csodctl runs set-user-ID");
		return -1;
	}
	return 0;
}

/* csodd's user owns store/ (mode 0700): only that user answers for csodd,
 * whatever else --config names. */
static int is_daemon_user(const ctl *c)
{
	char state[PATH_MAX + 8];
	struct stat st;
	snprintf(state, sizeof state, "%s/store", c->spool);
	if (stat(state, &st) == 0 && st.st_uid == getuid())
		return 1;
	ctl_error("--serve runs as csodd's user, the owner of %s", state);
	return 0;
}

static ssize_t frame_write(void *cookie, const char *buf, size_t size)
{
	if (size == 0)
		return 0;
	return csod_wire_send(CONN, (int)(intptr_t)cookie, buf, size) < 0 ? -1 : (ssize_t)size;
}

/* stdout and stderr become frames to the client. */
static int framed_streams(void)
{
	cookie_io_functions_t io = {.write = frame_write};
	FILE *out = fopencookie((void *)(intptr_t)CSOD_WIRE_STDOUT, "w", io);
	FILE *err = fopencookie((void *)(intptr_t)CSOD_WIRE_STDERR, "w", io);
	if (!out || !err) {
		if (out)
			fclose(out);
		if (err)
			fclose(err);
		return -1;
	}
	setvbuf(out, NULL, _IOFBF, 16384);
	setvbuf(err, NULL, _IOLBF, 4096);
	stdout = out;
	stderr = err;
	return 0;
}

/* The request's own options (--json), then the command. */
static int run_request(ctl *c, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char **args = calloc((size_t)argc + 2, sizeof *args);
	if (!args)
		return ctl_error("out of memory");
	args[0] = "csodctl";
	memcpy(args + 1, argv, sizeof *args * (size_t)argc);
	int opt, rc = -1;
	optind = 0; /* 0, not 1: glibc then also resets its internal state */
	while (rc < 0 && (opt = getopt_long(argc + 1, args, "+jh", options, NULL)) != -1) {
		if (opt == 'j') {
			c->json = 1;
		} else {
			ctl_usage(opt == 'h' ? stdout : stderr);
			rc = opt == 'h' ? 0 : 2;
		}
	}
	int n = argc + 1 - optind;
	if (rc < 0)
		rc = ctl_prepare(&n, args + optind, &c->json);
	if (rc < 0)
		rc = ctl_run(c, n, args + optind);
	free(args);
	return rc;
}

int ctl_serve(const char *config_path, const char *spool, const char *caller_uid)
{
	char *end;
	errno = 0;
	unsigned long uid = strtoul(caller_uid, &end, 10);
	if (errno || end == caller_uid || *end || uid >= (uid_t)-1)
		return ctl_error("--caller-uid: expected a uid, got \"%s\"", caller_uid) + 1;
	char why[PATH_MAX + 100];
	if (connection_ok((uid_t)uid, why, sizeof why) < 0)
		return ctl_error("--serve is csodd's own: %s", why);
	if (framed_streams() < 0)
		return ctl_error("--serve: cannot frame its output: %s", strerror(errno));
	struct timeval request_timeout = {REQUEST_TIMEOUT_S, 0},
	               answer_timeout = {ANSWER_TIMEOUT_S, 0};
	setsockopt(CONN, SOL_SOCKET, SO_RCVTIMEO, &request_timeout, sizeof request_timeout);
	setsockopt(CONN, SOL_SOCKET, SO_SNDTIMEO, &answer_timeout, sizeof answer_timeout);

	ctl c;
	memset(&c, 0, sizeof c);
	c.serving = 1;
	int argc = 0, rc;
	char **argv = NULL;
	csod_error err;
	if (csod_wire_read_request(CONN, &argc, &argv, &err) < 0) {
		rc = ctl_error("the request: %s", err.msg);
	} else if (!(c.cfg = csod_config_load(config_path, spool, &err))) {
		rc = ctl_error("%s", err.msg);
	} else {
		if (!realpath(c.cfg->spool, c.spool))
			snprintf(c.spool, sizeof c.spool, "%s", c.cfg->spool);
		ctl_set_caller(&c, (uid_t)uid);
		rc = is_daemon_user(&c) ? run_request(&c, argc, argv) : 1;
	}
	rc = ctl_finish(&c, rc);
	fflush(stdout);
	fflush(stderr);
	csod_wire_send_exit(CONN, rc);
	csod_wire_free_args(argv);
	return rc;
}

/* The bytes of in to the client, in 'f' frames. */
static int stream_file(int in, const char *label)
{
	static char buf[CSOD_WIRE_MAX_DATA];
	ssize_t n = 0;
	int sent = 0;
	while (sent == 0 && (n = read(in, buf, sizeof buf)) > 0)
		sent = csod_wire_send(CONN, CSOD_WIRE_FILE, buf, (size_t)n);
	if (sent < 0 || n < 0)
		return ctl_error("%s: %s", label, strerror(errno));
	return 0;
}

static int copy_to(int in, int out, const char *label)
{
	csod_error err;
	int rc = csod_copy_fd(in, out, &err) < 0 ? ctl_error("%s", err.msg) : 0;
	if (close(out) < 0 && rc == 0)
		rc = ctl_error("%s: %s", label, strerror(errno));
	return rc;
}

int ctl_deliver(ctl *c, int in, const char *dest)
{
	if (!c->serving) {
		int out = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out < 0)
			return ctl_error("%s: %s", dest, strerror(errno));
		return copy_to(in, out, dest);
	}
	/* What was printed before comes first; the empty frame has the client
	 * create the file, also for an empty one. */
	fflush(stdout);
	if (csod_wire_send(CONN, CSOD_WIRE_FILE, "", 0) < 0)
		return ctl_error("%s: %s", dest, strerror(errno));
	return stream_file(in, dest);
}

int ctl_deliver_named(ctl *c, int in, int dir_fd, const char *dir, const char *name)
{
	if (!c->serving) {
		int out = ctl_open_new(dir_fd, dir, name);
		return out < 0 ? 1 : copy_to(in, out, name);
	}
	/* The name frame has the client create the file in its folder. */
	fflush(stdout);
	if (csod_wire_send(CONN, CSOD_WIRE_NAME, name, strlen(name)) < 0)
		return ctl_error("%s: %s", name, strerror(errno));
	return stream_file(in, name);
}
