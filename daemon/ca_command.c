/* ca.command: an external CA client (step-ca, EJBCA's client, `openssl ca`
 * in a script) gets the CSR on standard input and prints the certificate.
 * It runs through run_command.h (its own process group, killed at its time
 * limit or csodd's stop) on a thread of ca_command_jobs, never on the event
 * loop, so it may take its time. */
#include "ca_external.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "run_command.h"

#define MAX_ANSWER (1 << 20)

int csod_ca_run_command(const char *command, const char *csr, const char *order, const char *email,
                        int timeout_s, int cancel_fd, char **out, size_t *out_len, csod_error *err)
{
	*out = NULL;
	size_t len_o = strlen(order) + sizeof "CSOD_ORDER=";
	size_t len_e = strlen(email ? email : "") + sizeof "CSOD_EMAIL=";
	char *env_order = malloc(len_o), *env_email = malloc(len_e);
	if (!env_order || !env_email) {
		free(env_order);
		free(env_email);
		return csod_fail(err, "out of memory");
	}
	snprintf(env_order, len_o, "CSOD_ORDER=%s", order);
	snprintf(env_email, len_e, "CSOD_EMAIL=%s", email ? email : "");
	const char *argv[] = {"/bin/sh", "-c", command, NULL};
	const char *env[] = {env_order, env_email, NULL};
	csod_run run = {.argv = argv,
	                .env = env,
	                .input = csr,
	                .timeout_s = timeout_s,
	                .cancel_fd = cancel_fd,
	                .max_output = MAX_ANSWER};
	csod_run_result res;
	csod_error why;
	int rc = csod_run_command(&run, &res, &why);
	free(env_order);
	free(env_email);
	if (rc < 0)
		return csod_fail(err, "ca.command %s",
		                 strstr(why.msg, "stopping") ? "was not started: csodd is stopping"
		                                             : why.msg);
	char status[32];
	csod_run_status_text(res.status, status, sizeof status);
	if (res.end == CSOD_RUN_CANCELLED)
		rc = csod_fail(err, "ca.command was killed: csodd is stopping");
	else if (res.end == CSOD_RUN_TIMED_OUT)
		rc = csod_fail(err, "ca.command did not finish within %d s and was killed",
		               timeout_s);
	else if (res.end == CSOD_RUN_TOO_BIG)
		rc = csod_fail(err, "ca.command printed more than %d bytes: not a certificate",
		               MAX_ANSWER);
	else if (!WIFEXITED(res.status) || WEXITSTATUS(res.status) != 0)
		rc = csod_fail(err, "ca.command failed (%s)%s%s", status,
		               res.errtext[0] ? ": " : "", res.errtext);
	if (rc < 0) {
		csod_run_result_free(&res);
		return -1;
	}
	*out = res.output;
	*out_len = res.len;
	return 0;
}
