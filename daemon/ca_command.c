/* ca.command: an external CA client (step-ca, EJBCA's client, `openssl ca`
 * in a script) gets the CSR on standard input and prints the certificate.
 * It runs in its own process group so that a time-out kills everything it
 * started. The event loop waits for it: keep command_timeout short. */
#include "ca_external.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/log.h"

#define MAX_ANSWER (1 << 20)
#define MAX_STDERR 400

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t spawn(const char *command, const char *order, const char *email, int in[2], int out[2],
                   int errp[2])
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	setpgid(0, 0);
	dup2(in[0], 0);
	dup2(out[1], 1);
	dup2(errp[1], 2);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	setenv("CSOD_ORDER", order, 1);
	setenv("CSOD_EMAIL", email ? email : "", 1);
	signal(SIGPIPE, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execl("/bin/sh", "sh", "-c", command, (char *)NULL);
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

int csod_ca_run_command(const char *command, const char *csr, const char *order, const char *email,
                        int timeout_s, char **out, size_t *out_len, csod_error *err)
{
	int in[2] = {-1, -1}, o[2] = {-1, -1}, e[2] = {-1, -1};
	char *answer = malloc(MAX_ANSWER + 1), errtext[MAX_STDERR + 1];
	size_t len = 0, elen = 0;
	*out = NULL;
	if (!answer || pipe2(in, O_CLOEXEC) < 0 || pipe2(o, O_CLOEXEC) < 0 ||
	    pipe2(e, O_CLOEXEC) < 0) {
		csod_fail_errno(err, "ca.command: cannot make pipes");
		goto fail;
	}
	pid_t pid = spawn(command, order, email, in, o, e);
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
	close(in[1]);
	in[1] = -1;
	int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
	int open_out = 1, open_err = 1, too_big = 0, timed_out = 0;
	while (open_out || open_err) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		struct pollfd p[2] = {{open_out ? o[0] : -1, POLLIN, 0},
		                      {open_err ? e[0] : -1, POLLIN, 0}};
		if (poll(p, 2, (int)left) < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			int r = drain(o[0], answer, &len, MAX_ANSWER);
			open_out = r > 0;
			too_big |= r < 0;
		}
		if (p[1].revents)
			open_err = drain(e[0], errtext, &elen, MAX_STDERR) != 0;
		if (too_big)
			break;
	}
	if (timed_out || too_big)
		kill(-pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	errtext[elen] = '\0';
	errtext[strcspn(errtext, "\n")] = '\0';
	if (timed_out) {
		csod_fail(err, "ca.command did not finish within %d s and was killed", timeout_s);
		goto fail;
	}
	if (too_big) {
		csod_fail(err, "ca.command printed more than %d bytes: not a certificate",
		          MAX_ANSWER);
		goto fail;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		csod_fail(err, "ca.command failed (%s %d)%s%s",
		          WIFEXITED(status) ? "exit status" : "signal",
		          WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		          errtext[0] ? ": " : "", errtext);
		goto fail;
	}
	close(o[0]);
	close(e[0]);
	answer[len] = '\0';
	*out = answer;
	*out_len = len;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (o[i] >= 0)
			close(o[i]);
		if (e[i] >= 0)
			close(e[i]);
	}
	free(answer);
	return -1;
}
