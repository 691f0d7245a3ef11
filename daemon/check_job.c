/* The pre-sign checks on a worker thread. Each reads the store copy (the
 * bytes that will be signed), never the inbox: ClamAV through clamd's
 * socket, then the policy hook, which gets the store folder's path, its
 * files made read-only (0400), and the request's facts in its environment.
 * The hook runs as csodd's user, so read-only is a promise it could break:
 * every file and the folder are compared before and after (inode, size,
 * mtime, ctime: ctime cannot be set back), and a change fails the request. */
#include "check_job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../lib/text.h"
#include "../signers/signer.h"
#include "check_verdicts.h"
#include "clamd.h"
#include "run_command.h"

#define HOOK_OUTPUT_MAX (64 * 1024)

static void verdict(csod_check_job *job, const char *check, const char *word, const char *reason)
{
	csod_verdict_add(&job->r, check, word, reason, csod_now());
}

static void run_clamav(csod_check_job *job, int dir_fd)
{
	csod_clamd_target t = {job->clamav_socket, job->clamav_tcp};
	char found[400] = "", error[400] = "", name[CSOD_SHOWN_MAX];
	int n_found = 0;
	for (int i = 0; i < job->r.n_files; i++) {
		const char *file = job->r.files[i].name;
		csod_escape_to(file, name, sizeof name);
		int fd = openat(dir_fd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		char signature[256];
		csod_error err = {.msg = ""};
		csod_clamd_result res =
		    fd < 0 ? (csod_fail_errno(&err, "cannot open the store copy"), CSOD_CLAMD_ERROR)
		           : csod_clamd_scan_fd(&t, fd, job->clamav_timeout_s, job->cancel_fd,
		                                signature, sizeof signature, &err);
		if (fd >= 0)
			close(fd);
		if (res == CSOD_CLAMD_FOUND && n_found++ == 0)
			snprintf(found, sizeof found, "%s FOUND in %s", signature, name);
		if (res != CSOD_CLAMD_ERROR)
			continue;
		if (strstr(err.msg, "csodd is stopping")) {
			job->cancelled = 1;
			return;
		}
		if (!error[0])
			snprintf(error, sizeof error, "cannot scan %s: %s", name, err.msg);
		/* clamd refusing one large file says nothing of the others; clamd
		 * gone or hanging says the same of every file. */
		if (!strstr(err.msg, "StreamMaxLength"))
			break;
	}
	if (n_found > 1) {
		size_t n = strlen(found);
		snprintf(found + n, sizeof found - n, " (and %d more file(s))", n_found - 1);
	}
	if (n_found)
		verdict(job, "clamav", "fail", found);
	else if (error[0])
		verdict(job, "clamav", "error", error);
	else {
		char clean[64];
		snprintf(clean, sizeof clean, "no signature found in %d file(s)", job->r.n_files);
		verdict(job, "clamav", "pass", clean);
	}
}

/* What a file or the folder looked like: any write, rename, chmod or
 * new entry changes one of these. */
typedef struct snapshot {
	struct stat st;
	int fd;
} snapshot;

static int same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mode == b->st_mode && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Makes the store copy read-only and notes how it looks: snaps[0] is the
 * folder, snaps[1 + i] file i. */
static int take_snapshots(const csod_check_job *job, int dir_fd, snapshot *snaps)
{
	snaps[0].fd = -1;
	if (fstat(dir_fd, &snaps[0].st) < 0)
		return -1;
	for (int i = 0; i < job->r.n_files; i++) {
		snapshot *s = &snaps[1 + i];
		s->fd = openat(dir_fd, job->r.files[i].name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (s->fd < 0 || fchmod(s->fd, 0400) < 0 || fstat(s->fd, &s->st) < 0)
			return -1;
	}
	/* fchmod changed the folder's files, not the folder. */
	return 0;
}

/* "" when nothing changed, else what did. */
static void compare_snapshots(csod_check_job *job, int dir_fd, snapshot *snaps)
{
	struct stat now, named;
	if (fstat(dir_fd, &now) < 0 || !same(&now, &snaps[0].st)) {
		snprintf(job->tamper_reason, sizeof job->tamper_reason,
		         "the policy hook changed the store folder (added, removed or renamed a "
		         "file)");
		job->tampered = 1;
		return;
	}
	for (int i = 0; i < job->r.n_files; i++) {
		const char *file = job->r.files[i].name;
		if (fstat(snaps[1 + i].fd, &now) == 0 && same(&now, &snaps[1 + i].st) &&
		    fstatat(dir_fd, file, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
		    same(&named, &snaps[1 + i].st))
			continue;
		char name[CSOD_SHOWN_MAX];
		snprintf(job->tamper_reason, sizeof job->tamper_reason,
		         "the policy hook changed the store copy of %s",
		         csod_escape_to(file, name, sizeof name));
		job->tampered = 1;
		return;
	}
}

/* The hook's file list: "<sha256>  <name>" lines, as sha256sum prints
 * them (names hold no control characters: intake refuses them). */
static int write_list(const csod_check_job *job, csod_error *err)
{
	size_t cap = 1, len = 0;
	for (int i = 0; i < job->r.n_files; i++)
		cap += strlen(job->r.files[i].name) + 70;
	char *text = malloc(cap);
	if (!text)
		return csod_fail(err, "out of memory");
	for (int i = 0; i < job->r.n_files; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s  %s\n", job->r.files[i].sha256,
		                        job->r.files[i].name);
	unlink(job->list);
	int fd = open(job->list, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	int rc = fd < 0 || write(fd, text, len) != (ssize_t)len
	             ? csod_fail_errno(err, "cannot write %s", job->list)
	             : 0;
	if (fd >= 0)
		close(fd);
	free(text);
	return rc;
}

/* NAME=value, malloc'd, into env[*n]. */
static void env_add(char **env, int *n, const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 2;
	if ((env[*n] = malloc(len)))
		snprintf(env[(*n)++], len, "%s=%s", name, value);
}

/* The request's service, or (by file type) each file's, comma-separated
 * once each: "authenticode", "authenticode,java". */
static void services(const csod_request *r, char *out, size_t len)
{
	snprintf(out, len, "%s", r->service);
	for (int i = 0; !r->service[0] && i < r->n_files; i++) {
		const char *s = csod_service_for_name(r->files[i].name);
		if (!s)
			s = r->files[i].engine; /* by content: a PE, MSI, CAB or catalog */
		if (strcmp(s, "pe") == 0 || strcmp(s, "msi") == 0 || strcmp(s, "cab") == 0 ||
		    strcmp(s, "cat") == 0)
			s = "authenticode";
		size_t n = strlen(out), k = strlen(s);
		const char *hit = strstr(out, s);
		if (hit && (hit == out || hit[-1] == ',') && (hit[k] == ',' || !hit[k]))
			continue;
		snprintf(out + n, len - n, "%s%s", n ? "," : "", s);
	}
}

/* The first line of the hook's output, escaped: its reason. */
static void first_line(const char *output, const char *fallback, char *out, size_t len)
{
	char line[400];
	snprintf(line, sizeof line, "%.*s", (int)strcspn(output, "\r\n"), output);
	if (!line[0])
		snprintf(line, sizeof line, "%s", fallback);
	csod_escape_to(line, out, len);
}

static void judge_hook(csod_check_job *job, const csod_run_result *res)
{
	char reason[400], status[32], line[300];
	csod_run_status_text(res->status, status, sizeof status);
	first_line(res->output ? res->output : "", "", line, sizeof line);
	if (res->end == CSOD_RUN_CANCELLED) {
		job->cancelled = 1;
		return;
	}
	int code = WIFEXITED(res->status) ? WEXITSTATUS(res->status) : -1;
	if (res->end == CSOD_RUN_TIMED_OUT)
		snprintf(reason, sizeof reason,
		         "cannot run: killed after %d s (checks.policy.timeout)",
		         job->policy_timeout_s);
	else if (res->end == CSOD_RUN_TOO_BIG)
		snprintf(reason, sizeof reason, "cannot run: printed more than %d bytes",
		         HOOK_OUTPUT_MAX);
	else if (code < 0 || code > 2)
		snprintf(reason, sizeof reason, "cannot run: ended with %s%s%s", status,
		         line[0] || res->errtext[0] ? ": " : "", line[0] ? line : res->errtext);
	else
		snprintf(reason, sizeof reason, "%s",
		         line[0]     ? line
		         : code == 0 ? "passed"
		                     : "(no reason given)");
	const char *word = res->end != CSOD_RUN_DONE || code < 0 || code > 2 ? "error"
	                   : code == 0                                       ? "pass"
	                   : code == 1                                       ? "fail"
	                                                                     : "hold";
	verdict(job, "policy", word, reason);
}

static void run_policy(csod_check_job *job, int dir_fd)
{
	csod_request *r = &job->r;
	csod_error err = {.msg = ""};
	snapshot *snaps = calloc((size_t)r->n_files + 1, sizeof *snaps);
	char *env[16] = {NULL};
	int n = 0;
	if (!snaps || write_list(job, &err) < 0 || take_snapshots(job, dir_fd, snaps) < 0) {
		char reason[400];
		snprintf(reason, sizeof reason, "cannot run: %s",
		         err.msg[0] ? err.msg : "cannot make the store copy read-only");
		verdict(job, "policy", "error", reason);
		goto done;
	}
	char count[16];
	snprintf(count, sizeof count, "%d", r->n_files);
	env_add(env, &n, "CSOD_REQUEST_ID", r->id);
	env_add(env, &n, "CSOD_DEVELOPER", r->developer);
	env_add(env, &n, "CSOD_ORGANIZATION", r->organization);
	env_add(env, &n, "CSOD_DEPARTMENT", r->department);
	env_add(env, &n, "CSOD_DROP", r->drop_name);
	env_add(env, &n, "CSOD_VERSION", r->version);
	char service[128];
	services(r, service, sizeof service);
	env_add(env, &n, "CSOD_SERVICE", service);
	env_add(env, &n, "CSOD_DIGESTS", r->digests);
	env_add(env, &n, "CSOD_STORE_DIR", job->store);
	env_add(env, &n, "CSOD_FILES", job->list);
	env_add(env, &n, "CSOD_FILE_COUNT", count);
	csod_run run = {.argv = (const char *const *)job->policy_command,
	                .env = (const char *const *)env,
	                .cwd = job->store,
	                .timeout_s = job->policy_timeout_s,
	                .cancel_fd = job->cancel_fd,
	                .max_output = HOOK_OUTPUT_MAX};
	csod_run_result res;
	if (csod_run_command(&run, &res, &err) < 0) {
		char reason[400];
		if (strstr(err.msg, "csodd is stopping"))
			job->cancelled = 1;
		snprintf(reason, sizeof reason, "cannot run: %s", err.msg);
		verdict(job, "policy", "error", reason);
	} else {
		judge_hook(job, &res);
		csod_run_result_free(&res);
	}
	compare_snapshots(job, dir_fd, snaps);
done:
	unlink(job->list);
	for (int i = 0; snaps && i < r->n_files; i++)
		if (snaps[1 + i].fd > 0)
			close(snaps[1 + i].fd);
	free(snaps);
	for (int i = 0; i < n; i++)
		free(env[i]);
}

void csod_check_job_run(void *arg)
{
	csod_check_job *job = arg;
	job->r.n_verdicts = 0;
	int dir_fd = open(job->store, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir_fd < 0) {
		char reason[400];
		snprintf(reason, sizeof reason, "cannot run: cannot open the store copy: %s",
		         strerror(errno));
		if (job->clamav_socket || job->clamav_tcp)
			verdict(job, "clamav", "error", reason);
		if (job->policy_command)
			verdict(job, "policy", "error", reason);
		return;
	}
	if (job->clamav_socket || job->clamav_tcp)
		run_clamav(job, dir_fd);
	if (job->policy_command && !job->cancelled)
		run_policy(job, dir_fd);
	close(dir_fd);
}

void csod_check_job_free(void *arg)
{
	csod_check_job *job = arg;
	if (!job)
		return;
	csod_request_free(&job->r);
	free(job->clamav_socket);
	free(job->clamav_tcp);
	for (int i = 0; job->policy_command && job->policy_command[i]; i++)
		free(job->policy_command[i]);
	free(job->policy_command);
	free(job);
}
