/* ca.command: an external CA client (step-ca, EJBCA's client, `openssl ca`
 * in a script) gets the CSR on standard input and prints the certificate.
 * It runs in its own process group so that a time-out, or csodd's stop,
 * kills everything it started. This runs on a thread of ca_command_jobs,
 * never on the event loop, so it may take its time. */
#include "ca_external.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../watchers/watcher.h"

#define MAX_ANSWER (1 << 20)
#define MAX_STDERR 400
/* How often the end of a command that closed its output is looked for. */
#define EXIT_POLL_MS 50

extern char **environ;

static char *env_entry(const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 2;
	char *entry = malloc(len);
	if (entry)
		snprintf(entry, len, "%s=%s", name, value);
	return entry;
}

/* csodd's environment plus CSOD_ORDER and CSOD_EMAIL, made before fork:
 * between fork and exec in a threaded process only async-signal-safe calls
 * are allowed, and setenv is not one. Entries 0 and 1 are malloc'd. */
static char **child_env(const char *order, const char *email)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 3, sizeof *env);
	if (!env)
		return NULL;
	env[0] = env_entry("CSOD_ORDER", order);
	env[1] = env_entry("CSOD_EMAIL", email ? email : "");
	if (!env[0] || !env[1]) {
		free(env[0]);
		free(env[1]);
		free(env);
		return NULL;
	}
	size_t k = 2;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "CSOD_ORDER=", 11) != 0 &&
		    strncmp(environ[i], "CSOD_EMAIL=", 11) != 0)
			env[k++] = environ[i];
	return env;
}

static void free_env(char **env)
{
	if (env) {
		free(env[0]);
		free(env[1]);
	}
	free(env);
}

static pid_t spawn(const char *command, char **env, int in[2], int out[2], int errp[2])
{
	char *argv[] = {"sh", "-c", (char *)command, NULL};
	pid_t pid = fork();
	if (pid > 0)
		setpgid(pid, pid); /* as the child does: no window for a kill(-pid) */
	if (pid != 0)
		return pid;
	setpgid(0, 0);
	dup2(in[0], 0);
	dup2(out[1], 1);
	dup2(errp[1], 2);
	close_range(3, ~0U, 0);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	execve("/bin/sh", argv, env);
	_exit(127);
}

/* Appends what fd has to (buf, len) up to cap; returns 0 at EOF, 1 while
 * open, -1 when the answer is too large. */
static int drain(int fd, char *buf, size_t *len, size_t cap)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof chunk);
	if (n == 0)
		return 0;
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	size_t take = (size_t)n < cap - *len ? (size_t)n : cap - *len;
	memcpy(buf + *len, chunk, take);
	*len += take;
	return take < (size_t)n ? -1 : 1;
}

/* The leader has exited; it stays a zombie (WNOWAIT), so its process
 * group id cannot be reused before the group is killed. */
static int leader_exited(pid_t pid)
{
	siginfo_t info;
	memset(&info, 0, sizeof info);
	return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       info.si_pid == pid;
}

typedef enum { RUN_DONE, RUN_TIMED_OUT, RUN_TOO_BIG, RUN_CANCELLED } run_end;

typedef struct command_output {
	char *answer;
	size_t len;
	char errtext[MAX_STDERR + 1];
	size_t elen;
} command_output;

/* Reads the command's output until it has exited and closed both pipes,
 * or the time limit, the answer limit or a stop comes first. */
static run_end collect(pid_t pid, int out_fd, int err_fd, int cancel_fd, int timeout_s,
                       command_output *o)
{
	int64_t deadline = csod_monotonic_ms() + (int64_t)timeout_s * 1000;
	int open_out = 1, open_err = 1;
	for (;;) {
		if (!open_out && !open_err && leader_exited(pid))
			return RUN_DONE;
		int64_t left = deadline - csod_monotonic_ms();
		if (left <= 0)
			return RUN_TIMED_OUT;
		if (!open_out && !open_err && left > EXIT_POLL_MS)
			left = EXIT_POLL_MS;
		struct pollfd p[3] = {{open_out ? out_fd : -1, POLLIN, 0},
		                      {open_err ? err_fd : -1, POLLIN, 0},
		                      {cancel_fd, POLLIN, 0}};
		if (poll(p, 3, (int)left) < 0 && errno != EINTR)
			return RUN_TIMED_OUT;
		if (p[2].revents)
			return RUN_CANCELLED;
		if (p[0].revents) {
			int r = drain(out_fd, o->answer, &o->len, MAX_ANSWER);
			if (r < 0)
				return RUN_TOO_BIG;
			open_out = r > 0;
		}
		if (p[1].revents)
			open_err = drain(err_fd, o->errtext, &o->elen, MAX_STDERR) != 0;
	}
}

static int cancelled(int cancel_fd)
{
	struct pollfd p = {cancel_fd, POLLIN, 0};
	return cancel_fd >= 0 && poll(&p, 1, 0) > 0;
}

static void close_pair(int fds[2])
{
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	fds[0] = fds[1] = -1;
}

int csod_ca_run_command(const char *command, const char *csr, const char *order, const char *email,
                        int timeout_s, int cancel_fd, char **out, size_t *out_len, csod_error *err)
{
	int in[2] = {-1, -1}, o[2] = {-1, -1}, e[2] = {-1, -1};
	command_output output = {.answer = malloc(MAX_ANSWER + 1)};
	char **env = child_env(order, email);
	*out = NULL;
	if (cancelled(cancel_fd)) {
		csod_fail(err, "ca.command was not started: csodd is stopping");
		goto fail;
	}
	if (!output.answer || !env || pipe2(in, O_CLOEXEC) < 0 || pipe2(o, O_CLOEXEC) < 0 ||
	    pipe2(e, O_CLOEXEC) < 0) {
		csod_fail_errno(err, "ca.command: cannot make pipes");
		goto fail;
	}
	pid_t pid = spawn(command, env, in, o, e);
	close(in[0]);
	close(o[1]);
	close(e[1]);
	in[0] = o[1] = e[1] = -1;
	if (pid < 0) {
		csod_fail_errno(err, "ca.command: cannot start it");
		goto fail;
	}
	/* A CSR is a few kB, well under a pipe's buffer: this does not block
	 * even if the command never reads it. */
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	if (write(in[1], csr, strlen(csr)) < 0 && errno != EPIPE)
		csod_log(LOG_WARNING, NULL, "ca.command: cannot write the CSR: %s",
		         strerror(errno));
	close_pair(in);
	run_end end = collect(pid, o[0], e[0], cancel_fd, timeout_s, &output);
	/* Whatever it left running in its group goes too, whichever the end. */
	kill(-pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	output.errtext[output.elen] = '\0';
	output.errtext[strcspn(output.errtext, "\n")] = '\0';
	if (end == RUN_CANCELLED) {
		csod_fail(err, "ca.command was killed: csodd is stopping");
		goto fail;
	}
	if (end == RUN_TIMED_OUT) {
		csod_fail(err, "ca.command did not finish within %d s and was killed", timeout_s);
		goto fail;
	}
	if (end == RUN_TOO_BIG) {
		csod_fail(err, "ca.command printed more than %d bytes: not a certificate",
		          MAX_ANSWER);
		goto fail;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		csod_fail(err, "ca.command failed (%s %d)%s%s",
		          WIFEXITED(status) ? "exit status" : "signal",
		          WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		          output.errtext[0] ? ": " : "", output.errtext);
		goto fail;
	}
	close_pair(o);
	close_pair(e);
	free_env(env);
	output.answer[output.len] = '\0';
	*out = output.answer;
	*out_len = output.len;
	return 0;
fail:
	close_pair(in);
	close_pair(o);
	close_pair(e);
	free_env(env);
	free(output.answer);
	return -1;
}
