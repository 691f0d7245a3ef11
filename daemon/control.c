#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "control_wire.h"

extern char **environ;

/* csodctl answers in well under a second; an approval waits up to 10 s for
 * csodd to take its marker. A client that sends nothing, or reads nothing,
 * holds a slot no longer than this. */
#define CONTROL_TIME_LIMIT_MS 60000
/* At most this many csodctl at once, and this many for one uid, so that no
 * user can take every slot from the administrators. */
#define CONTROL_MAX         16
#define CONTROL_MAX_PER_UID 4
#define CONTROL_BACKLOG     32
/* How often to look for the end of a csodctl that has no pidfd. */
#define POLL_MS 100

typedef struct control_child {
	pid_t pid;
	int pidfd;
	uid_t uid;
	int64_t deadline_ms;
	int killed;
} control_child;

struct csod_control {
	int listen_fd;
	int ep; /* the listener and one pidfd per child */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	char csodctl[PATH_MAX];
	char config_path[PATH_MAX];
	char *spool_override;
	control_child children[CONTROL_MAX];
	int n_children;
};

/* csodctl is installed beside csodd (the build tree) or in ../bin beside
 * the sbin it is in. */
static int find_csodctl(char *out, size_t len, csod_error *err)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0)
		return csod_fail_errno(err, "control socket: cannot find csodd's own path");
	self[n] = '\0';
	const char *dir = dirname(self);
	static const char *const places[] = {"%s/csodctl", "%s/../bin/csodctl"};
	for (size_t i = 0; i < sizeof places / sizeof places[0]; i++)
		if (csod_path(out, len, places[i], dir) == 0 && access(out, X_OK) == 0)
			return 0;
	return csod_fail(err, "control socket: no csodctl in %s or %s/../bin", dir, dir);
}

/* A socket left where ours goes: replaced when nobody answers on it (a
 * crash), an error when someone does or when it is no socket at all. */
static int clear_old_socket(const char *path, csod_error *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : csod_fail_errno(err, "control socket %s", path);
	if (!S_ISSOCK(st.st_mode))
		return csod_fail(err, "control socket %s: exists and is not a socket", path);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int answered = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	if (fd >= 0)
		close(fd);
	if (answered)
		return csod_fail(err, "control socket %s: another process answers there", path);
	if (unlink(path) < 0)
		return csod_fail_errno(err, "control socket %s: cannot remove the old one", path);
	return 0;
}

static int listen_on(csod_control *c, csod_error *err)
{
	char dir[sizeof c->path];
	snprintf(dir, sizeof dir, "%s", c->path);
	/* The folder of the default place (<spool>/run); a configured one
	 * (/run/csod) is made by systemd's RuntimeDirectory=. */
	if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST)
		return csod_fail_errno(err, "control socket: cannot create %s", dir);
	if (clear_old_socket(c->path, err) < 0)
		return -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", c->path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct stat st;
	if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    chmod(c->path, 0666) < 0 || listen(c->listen_fd, CONTROL_BACKLOG) < 0 ||
	    stat(c->path, &st) < 0)
		return csod_fail_errno(err, "control socket %s", c->path);
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	return 0;
}

csod_control *csod_control_open(const csod_config *cfg, const char *spool, const char *config_path,
                                const char *spool_override, csod_error *err)
{
	csod_control *c = calloc(1, sizeof *c);
	if (!c) {
		csod_fail(err, "out of memory");
		return NULL;
	}
	c->listen_fd = -1;
	c->ep = -1;
	if (!realpath(config_path, c->config_path))
		snprintf(c->config_path, sizeof c->config_path, "%s", config_path);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
	int rc = -1;
	if (csod_control_socket_path(cfg, spool, c->path, sizeof c->path) < 0) {
		/* Only the default can be too long (the config checks its own
		 * value): run without, as before there was a socket; root's
		 * csodctl then works offline. */
		csod_log(LOG_WARNING, NULL,
		         "no control socket: %s/run/csod.sock is longer than %zu bytes; set "
		         "control_socket (csod.conf(5)) for csodctl to reach csodd",
		         spool, sizeof c->path - 1);
		rc = 0;
	} else if (find_csodctl(c->csodctl, sizeof c->csodctl, err) < 0 || listen_on(c, err) < 0) {
		/* err says why */
	} else if (spool_override && !(c->spool_override = strdup(spool_override)))
		csod_fail(err, "out of memory");
	else if ((c->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	         epoll_ctl(c->ep, EPOLL_CTL_ADD, c->listen_fd, &ev) < 0)
		csod_fail_errno(err, "control socket: epoll");
	else
		rc = 0;
	if (rc == 0)
		return c;
	csod_control_close(c);
	return NULL;
}

int csod_control_fd(const csod_control *c)
{
	return c ? c->ep : -1;
}

static int busy(const csod_control *c, uid_t uid)
{
	int mine = 0;
	for (int i = 0; i < c->n_children; i++)
		mine += c->children[i].uid == uid;
	return c->n_children >= CONTROL_MAX || mine >= CONTROL_MAX_PER_UID;
}

/* One line on the client's standard error and exit status 1, for a
 * connection csodd answers itself. */
static void refuse(int conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse(int conn, const char *fmt, ...)
{
	char text[300];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1;
	csod_wire_send(conn, CSOD_WIRE_STDERR, text, len);
	csod_wire_send_exit(conn, 1);
}

static int spawn(csod_control *c, int conn, uid_t uid, pid_t *pid)
{
	char uid_text[16];
	snprintf(uid_text, sizeof uid_text, "%u", (unsigned)uid);
	char *argv[] = {"csodctl",
	                "--serve",
	                "--caller-uid",
	                uid_text,
	                "--config",
	                c->config_path,
	                c->spool_override ? "--spool" : NULL,
	                c->spool_override,
	                NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* The connection is its standard input; its standard error stays
	 * csodd's (the log), for what goes wrong before it can answer. */
	posix_spawn_file_actions_adddup2(&fa, conn, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	sigset_t none, defaults;
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGHUP);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int rc = posix_spawn(pid, c->csodctl, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}

static void start_one(csod_control *c, int conn, int64_t now_ms)
{
	struct ucred peer;
	socklen_t len = sizeof peer;
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0) {
		csod_log(LOG_WARNING, NULL, "control: a connection without credentials: %s",
		         strerror(errno));
		return;
	}
	if (busy(c, peer.uid)) {
		csod_log(LOG_WARNING, NULL, "control: uid %u refused: too many connections",
		         (unsigned)peer.uid);
		refuse(conn, "csodctl: csodd is busy (too many csodctl at once); try again\n");
		return;
	}
	pid_t pid;
	int rc = spawn(c, conn, peer.uid, &pid);
	if (rc != 0) {
		csod_log(LOG_ERR, NULL, "control: cannot start %s: %s", c->csodctl, strerror(rc));
		refuse(conn, "csodctl: csodd cannot start its csodctl: %s\n", strerror(rc));
		return;
	}
	/* A pidfd in the epoll set says at once when it ends; where there is
	 * none (valgrind, an old kernel), csod_control_tick looks. */
	int pidfd = pidfd_open(pid, 0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)pid};
	if (pidfd >= 0 && epoll_ctl(c->ep, EPOLL_CTL_ADD, pidfd, &ev) < 0) {
		close(pidfd);
		pidfd = -1;
	}
	csod_log(LOG_DEBUG, NULL, "control: uid %u (pid %d): csodctl %d", (unsigned)peer.uid,
	         (int)peer.pid, (int)pid);
	c->children[c->n_children++] =
	    (control_child){pid, pidfd, peer.uid, now_ms + CONTROL_TIME_LIMIT_MS, 0};
}

/* Forgets children[i] if it has ended: 1, else 0. */
static int reap(csod_control *c, int i)
{
	control_child *ch = &c->children[i];
	int status;
	if (waitpid(ch->pid, &status, WNOHANG) != ch->pid)
		return 0;
	if (WIFSIGNALED(status) && !ch->killed)
		csod_log(LOG_ERR, NULL, "control: csodctl for uid %u died of signal %d",
		         (unsigned)ch->uid, WTERMSIG(status));
	if (ch->pidfd >= 0) {
		epoll_ctl(c->ep, EPOLL_CTL_DEL, ch->pidfd, NULL);
		close(ch->pidfd);
	}
	c->children[i] = c->children[--c->n_children];
	return 1;
}

void csod_control_on_events(csod_control *c, int64_t now_ms)
{
	struct epoll_event events[CONTROL_MAX + 1];
	int n = epoll_wait(c->ep, events, CONTROL_MAX + 1, 0);
	for (int i = 0; i < n; i++) {
		if (events[i].data.u64 != 0) {
			for (int k = 0; k < c->n_children; k++)
				if (c->children[k].pid == (pid_t)events[i].data.u64 && reap(c, k))
					break;
			continue;
		}
		int conn;
		while ((conn = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			start_one(c, conn, now_ms);
			/* The csodctl has its own copy. */
			close(conn);
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			csod_log(LOG_WARNING, NULL, "control: accept: %s", strerror(errno));
	}
}

int64_t csod_control_tick(csod_control *c, int64_t now_ms)
{
	int64_t next = -1;
	for (int i = 0; c && i < c->n_children; i++) {
		control_child *ch = &c->children[i];
		if (ch->pidfd < 0 && reap(c, i)) {
			i--; /* the last child moved here */
			continue;
		}
		if (ch->pidfd < 0 && (next < 0 || next > POLL_MS))
			next = POLL_MS;
		if (ch->killed)
			continue;
		if (now_ms >= ch->deadline_ms) {
			csod_log(LOG_WARNING, NULL,
			         "control: csodctl for uid %u ran over %d s; ended",
			         (unsigned)ch->uid, CONTROL_TIME_LIMIT_MS / 1000);
			kill(ch->pid, SIGKILL);
			ch->killed = 1;
		} else if (next < 0 || ch->deadline_ms - now_ms < next) {
			next = ch->deadline_ms - now_ms;
		}
	}
	return next;
}

void csod_control_close(csod_control *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n_children; i++) {
		kill(c->children[i].pid, SIGTERM);
		waitpid(c->children[i].pid, NULL, 0);
		if (c->children[i].pidfd >= 0)
			close(c->children[i].pidfd);
	}
	struct stat st;
	if (c->listen_fd >= 0) {
		/* Only our own socket: not one a later csodd put there. */
		if (stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
			unlink(c->path);
		close(c->listen_fd);
	}
	if (c->ep >= 0)
		close(c->ep);
	free(c->spool_override);
	free(c);
}
