/* The pre-sign checks' loop side (checks.h): jobs out to the pool, verdicts
 * back, and what they decide. */
#include "checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "audit.h"
#include "check_job.h"
#include "check_verdicts.h"
#include "dispatch.h"
#include "intake.h"
#include "mail.h"
#include "notify.h"
#include "views.h"
#include "workers.h"

/* A scan is mostly clamd's CPU and a hook mostly waiting: two at a time
 * keep a slow one from holding up every other request. */
#define CHECK_THREADS 2

struct csod_checks {
	csod_workers *pool;
	int cancel_fd;
};

static void discard(void *arg)
{
	csod_check_job *job = arg;
	csod_log(LOG_NOTICE, job->r.id, "pre-sign checks interrupted; they run again at start");
	csod_check_job_free(job);
}

int csod_checks_start(csod_daemon *d)
{
	struct csod_checks *c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	c->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->pool = csod_workers_start(CHECK_THREADS, csod_check_job_run, discard);
	d->checks = c;
	if (c->cancel_fd < 0 || !c->pool) {
		csod_checks_stop(d);
		return -1;
	}
	return 0;
}

void csod_checks_stop(csod_daemon *d)
{
	struct csod_checks *c = d->checks;
	if (!c)
		return;
	/* Never read, so it stays readable: every scan and hook running or
	 * about to start sees it and ends. */
	uint64_t one = 1;
	if (c->cancel_fd >= 0 && write(c->cancel_fd, &one, sizeof one) < 0)
		csod_log(LOG_ERR, NULL, "cannot signal the pre-sign checks to stop");
	if (c->pool)
		csod_workers_stop(c->pool);
	if (c->cancel_fd >= 0)
		close(c->cancel_fd);
	free(c);
	d->checks = NULL;
}

int csod_checks_fd(const csod_daemon *d)
{
	return d->checks ? csod_workers_fd(d->checks->pool) : -1;
}

static char **copy_argv(char *const *argv)
{
	int n = 0;
	while (argv[n])
		n++;
	char **copy = calloc((size_t)n + 1, sizeof *copy);
	for (int i = 0; copy && i < n; i++)
		if (!(copy[i] = strdup(argv[i])))
			return copy; /* cut short: the hook fails to start, visibly */
	return copy;
}

void csod_checks_submit(csod_daemon *d, const csod_request *r)
{
	const csod_checks_config *k = &d->cfg->checks;
	csod_check_job *job = calloc(1, sizeof *job);
	csod_file *files = calloc((size_t)r->n_files + 1, sizeof *files);
	if (!job || !files) {
		free(job);
		free(files);
		csod_log(LOG_ERR, r->id,
		         "out of memory; the pre-sign checks run at the next start");
		return;
	}
	job->r = *r;
	memcpy(files, r->files, sizeof *files * (size_t)r->n_files);
	job->r.files = files;
	/* Copied: a reload may free the configuration while the job runs. */
	job->clamav_socket = k->clamav_socket ? strdup(k->clamav_socket) : NULL;
	job->clamav_tcp = k->clamav_tcp ? strdup(k->clamav_tcp) : NULL;
	job->clamav_timeout_s = k->clamav_timeout_s;
	job->policy_command = k->policy_command ? copy_argv(k->policy_command) : NULL;
	job->policy_timeout_s = k->policy_timeout_s;
	job->cancel_fd = d->checks->cancel_fd;
	if (csod_spool_path(d, job->store, sizeof job->store, "store/%s", r->id) < 0 ||
	    /* Not tmp/<id>.files: requests/<id>/files is built (and first
	     * removed) there while the checks run. */
	    csod_spool_path(d, job->list, sizeof job->list, "%s/%s.check-list", d->tmp_rel, r->id) <
	        0) {
		csod_log(LOG_ERR, r->id, "spool path too long for the pre-sign checks");
		csod_check_job_free(job);
		return;
	}
	csod_log(LOG_INFO, r->id, "pre-sign checks started");
	csod_workers_submit(d->checks->pool, job);
}

void csod_checks_rerun(csod_daemon *d, csod_request *r)
{
	/* Recorded as pending first: a stop before the verdicts are in runs
	 * them again at the next start, and nobody approves meanwhile. */
	snprintf(r->checks, sizeof r->checks, "pending");
	r->n_verdicts = 0;
	csod_error err;
	if (csod_request_update(d->db, r, &err) < 0) {
		csod_log(LOG_ERR, r->id, "%s; the pre-sign checks are not run again", err.msg);
		return;
	}
	csod_views_mark(d, r->id);
	csod_checks_submit(d, r);
}

/* The new verdicts and the mail that announces them, in one transaction. */
static int save_with_mail(csod_daemon *d, csod_request *r, const char *notice, csod_error *err)
{
	csod_notice *mail = csod_notice_build(d, r, notice);
	int rc = csod_db_begin(d->db) < 0 ? csod_fail(err, "database: %s", csod_db_errmsg(d->db))
	                                  : csod_request_update(d->db, r, err);
	if (rc == 0)
		rc = csod_notice_queue(d->db, mail, err);
	if (rc == 0 && csod_db_commit(d->db) < 0)
		rc = csod_fail(err, "database: %s", csod_db_errmsg(d->db));
	if (rc < 0)
		csod_db_rollback(d->db);
	else if (csod_notice_count(mail) > 0 && d->mailer)
		csod_mailer_wake(d->mailer);
	csod_notice_free(mail);
	csod_views_mark(d, r->id);
	return rc;
}

static void remove_store(csod_daemon *d, const char *id)
{
	char store[PATH_MAX];
	if (csod_spool_path(d, store, sizeof store, "store/%s", id) == 0)
		csod_rm_rf(store);
}

/* Auto-approve meets a failed check: declined, and the reason said
 * everywhere a developer looks (ERROR, request.json, the mail). */
static void decline(csod_daemon *d, csod_request *r)
{
	char line[sizeof r->error];
	csod_verdicts_line(r, line, sizeof line);
	snprintf(r->approver, sizeof r->approver, "csodd");
	snprintf(r->message, sizeof r->message, "declined by the pre-sign checks: %s", line);
	snprintf(r->error, sizeof r->error, "declined by the pre-sign checks: %s", line);
	csod_error err;
	if (csod_request_transition_mail(d, r, "declined", "csodd", "declined", &err) < 0) {
		csod_log(LOG_ERR, r->id, "%s; the checks run again at the next start", err.msg);
		return;
	}
	remove_store(d, r->id);
}

static void fail_tampered(csod_daemon *d, csod_request *r, const char *why)
{
	snprintf(r->error, sizeof r->error, "%s; the request cannot be signed: drop it again", why);
	csod_error err;
	if (csod_request_transition_mail(d, r, "failed", "csodd", "failed", &err) < 0)
		csod_log(LOG_ERR, r->id, "%s", err.msg);
	else
		remove_store(d, r->id);
}

static void finish(csod_daemon *d, csod_check_job *job)
{
	csod_request r;
	const char *id = job->r.id;
	if (csod_request_load(d->db, id, &r) != 0) {
		csod_request_free(&r);
		return;
	}
	for (int i = 0; i < job->r.n_verdicts; i++) {
		const csod_check_verdict *v = &job->r.verdicts[i];
		csod_audit_at(d->db, strcmp(v->verdict, "pass") == 0 ? LOG_NOTICE : LOG_WARNING,
		              "csodd", "check.verdict", id, "%s: %s: %s", v->check, v->verdict,
		              v->reason);
	}
	r.n_verdicts = job->r.n_verdicts;
	memcpy(r.verdicts, job->r.verdicts, sizeof r.verdicts);
	snprintf(r.checks, sizeof r.checks, "%s", csod_verdicts_summary(&r));
	char line[600];
	csod_verdicts_line(&r, line, sizeof line);
	csod_log(strcmp(r.checks, "pass") == 0 ? LOG_NOTICE : LOG_WARNING, id,
	         "pre-sign checks: %s", line);
	csod_error err;
	if (strcmp(r.state, "created") != 0) {
		/* Declined while the checks ran: the verdicts are kept all the same. */
		if (csod_request_update(d->db, &r, &err) < 0)
			csod_log(LOG_ERR, id, "%s", err.msg);
		csod_views_mark(d, id);
	} else if (job->tampered) {
		fail_tampered(d, &r, job->tamper_reason);
	} else if (csod_auto_approve_effective(d, r.organization) &&
	           strcmp(r.checks, "pass") == 0) {
		/* The verdicts go in with the approval, one transaction: a crash
		 * cannot leave a request that passed waiting for an approver. An
		 * approval that waits for room in the database (space.h) reloads
		 * the request: the verdicts are recorded for it, if they can be. */
		if (csod_dispatch_approve(d, &r, "auto-approve", "") == -1 &&
		    csod_request_update(d->db, &r, &err) < 0)
			csod_log(LOG_ERR, id, "%s; the checks run again at the next start",
			         err.msg);
	} else if (csod_auto_approve_effective(d, r.organization) &&
	           strcmp(r.checks, "fail") == 0) {
		decline(d, &r);
	} else if (save_with_mail(d, &r, "approval_needed", &err) < 0) {
		/* Flagged, held, or waiting for an approver as usual. */
		csod_log(LOG_ERR, id, "%s; the checks run again at the next start", err.msg);
	}
	csod_request_free(&r);
}

void csod_checks_collect(csod_daemon *d)
{
	csod_check_job *job;
	while ((job = csod_workers_take_done(d->checks->pool))) {
		if (job->cancelled)
			discard(job);
		else {
			finish(d, job);
			csod_check_job_free(job);
		}
	}
}

static void resubmit(void *ctx, const char *id)
{
	csod_daemon *d = ctx;
	csod_request r;
	if (csod_request_load(d->db, id, &r) == 0 && strcmp(r.checks, "pending") == 0)
		csod_checks_submit(d, &r);
	csod_request_free(&r);
}

void csod_checks_recover(csod_daemon *d)
{
	csod_requests_in_state(d->db, "created", resubmit, d);
}
