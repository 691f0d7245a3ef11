/* An administrator's program, run beside the daemon: fork, a new process
 * group, pipes for its standard streams, exec; its output is collected
 * under a time limit and its whole group killed when it ends, however it
 * ends (what it left running goes too). */
#include "run_command.h"

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
#include <unistd.h>

#include "../watchers/watcher.h"

/* How often the end of a program that closed its output is looked for. */
#define EXIT_POLL_MS 50

extern char **environ;

/* csodd's environment with run->env's entries added (replacing the same
 * names), built before fork: between fork and exec in a threaded process
 * only async-signal-safe calls are allowed, and setenv is not one. The
 * entries are borrowed, not copied. */
static char **child_env(const char *const *extra)
{
	size_t n = 0, k = 0, m = 0;
	while (environ[n])
		n++;
	while (extra && extra[m])
		m++;
	char **env = calloc(n + m + 1, sizeof *env);
	if (!env)
		return NULL;
	for (size_t i = 0; i < m; i++)
		env[k++] = (char *)extra[i];
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t len = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
		int replaced = 0;
		for (size_t j = 0; j < m && !replaced; j++)
			replaced = strncmp(extra[j], environ[i], len) == 0;
		if (!replaced)
			env[k++] = environ[i];
	}
	return env;
}

/* The child: its own process group, the pipes as 0, 1, 2, nothing else
 * open but the exec-failure pipe (close-on-exec: it closes unwritten when
 * exec works). */
static void child(const csod_run *run, char **env, int in, int out, int errp, int report)
{
	setpgid(0, 0);
	dup2(in, 0);
	dup2(out, 1);
	dup2(errp, 2);
	if (report != 3) {
		dup2(report, 3);
		fcntl(3, F_SETFD, FD_CLOEXEC);
	}
	close_range(4, ~0U, 0);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	int e = 0;
	if (run->cwd && chdir(run->cwd) < 0)
		e = errno;
	if (!e) {
		execve(run->argv[0], (char *const *)run->argv, env);
		e = errno;
	}
	if (write(3, &e, sizeof e) < 0) {
		/* Nothing left to tell it with. */
	}
	_exit(127);
}

/* Appends what fd has to (buf, len) up to cap; returns 0 at EOF, 1 while
 * open, -1 when there is more than cap. */
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

/* Reads the program's output until it has exited and closed both pipes,
 * or the time limit, the output limit or a stop comes first. */
static csod_run_end collect(const csod_run *run, pid_t pid, int out_fd, int err_fd,
                            csod_run_result *res)
{
	int64_t deadline = csod_monotonic_ms() + (int64_t)run->timeout_s * 1000;
	int open_out = 1, open_err = 1;
	size_t elen = 0;
	for (;;) {
		if (!open_out && !open_err && leader_exited(pid))
			return CSOD_RUN_DONE;
		int64_t left = deadline - csod_monotonic_ms();
		if (left <= 0)
			return CSOD_RUN_TIMED_OUT;
		if (!open_out && !open_err && left > EXIT_POLL_MS)
			left = EXIT_POLL_MS;
		struct pollfd p[3] = {{open_out ? out_fd : -1, POLLIN, 0},
		                      {open_err ? err_fd : -1, POLLIN, 0},
		                      {run->cancel_fd, POLLIN, 0}};
		if (poll(p, 3, (int)left) < 0 && errno != EINTR)
			return CSOD_RUN_TIMED_OUT;
		if (p[2].revents)
			return CSOD_RUN_CANCELLED;
		if (p[0].revents) {
			int r = drain(out_fd, res->output, &res->len, run->max_output);
			if (r < 0)
				return CSOD_RUN_TOO_BIG;
			open_out = r > 0;
		}
		if (p[1].revents) {
			open_err = drain(err_fd, res->errtext, &elen, CSOD_RUN_STDERR_MAX) != 0;
			res->errtext[elen] = '\0';
		}
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void csod_run_status_text(int status, char *out, size_t len)
{
	if (WIFEXITED(status))
		snprintf(out, len, "exit status %d", WEXITSTATUS(status));
	else
		snprintf(out, len, "signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int csod_run_command(const csod_run *run, csod_run_result *res, csod_error *err)
{
	memset(res, 0, sizeof *res);
	struct pollfd stop = {run->cancel_fd, POLLIN, 0};
	if (run->cancel_fd >= 0 && poll(&stop, 1, 0) > 0)
		return csod_fail(err, "%s was not started: csodd is stopping", run->argv[0]);
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1}, report[2] = {-1, -1};
	res->output = malloc(run->max_output + 1);
	char **env = child_env(run->env);
	int rc = 0;
	if (!res->output || !env || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(errp, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) {
		rc = csod_fail_errno(err, "%s: cannot make pipes", run->argv[0]);
		goto done;
	}
	pid_t pid = fork();
	if (pid == 0)
		child(run, env, in[0], out[1], errp[1], report[1]);
	if (pid > 0)
		setpgid(pid, pid); /* as the child does: no window for a kill(-pid) */
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&errp[1]);
	close_fd(&report[1]);
	if (pid < 0) {
		rc = csod_fail_errno(err, "%s: cannot start it", run->argv[0]);
		goto done;
	}
	/* exec either worked (the pipe closes empty) or says why not. */
	int exec_errno = 0;
	while (read(report[0], &exec_errno, sizeof exec_errno) < 0 && errno == EINTR)
		;
	/* Input is small, well under a pipe's buffer: this does not block even
	 * if the program never reads it. */
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	if (run->input && !exec_errno && write(in[1], run->input, strlen(run->input)) < 0) {
		/* It did not read it (EPIPE); its exit says what it made of that. */
	}
	close_fd(&in[1]);
	res->end = exec_errno ? CSOD_RUN_DONE : collect(run, pid, out[0], errp[0], res);
	/* Whatever it left running in its group goes too, whichever the end. */
	kill(-pid, SIGKILL);
	while (waitpid(pid, &res->status, 0) < 0 && errno == EINTR)
		;
	res->output[res->len] = '\0';
	res->errtext[strcspn(res->errtext, "\n")] = '\0';
	if (exec_errno)
		rc = csod_fail(err, "cannot run %s: %s", run->argv[0], strerror(exec_errno));
done:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&report[0]);
	close_fd(&report[1]);
	free(env);
	if (rc < 0)
		csod_run_result_free(res);
	return rc;
}

void csod_run_result_free(csod_run_result *res)
{
	free(res->output);
	res->output = NULL;
	res->len = 0;
}
