/* The event loop: one thread, epoll over the inbox watcher's inotify, the
 * approvals inotify, a signalfd and the workers' eventfds (signing, intake,
 * ca.command). Nothing here blocks on a signature, on mail or on a CA; the
 * epoll timeout is the next deadline (a settling drop, the periodic scan, an
 * expiry), so an idle daemon sleeps. */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "approvals.h"
#include "audit.h"
#include "checks.h"
#include "cluster.h"
#include "control.h"
#include "daemon.h"
#include "developers.h"
#include "dispatch.h"
#include "intake.h"
#include "mail.h"
#include "request.h"
#include "retention.h"
#include "service.h"
#include "space.h"
#include "spool_identity.h"
#include "spool_access.h"
#include "intake_job.h"
#include "sign_job.h"
#include "sign_publish.h"
#include "status_page.h"
#include "views.h"
#include "workers.h"

/* Copying and hashing drops is I/O-bound: more threads than cores, so that
 * a few large drops do not hold up the small ones behind them. */
#define INTAKE_THREADS 4
/* Writing views is fsync latency, not CPU: several at once, so the disk's
 * journal commits them together. */
#define VIEW_THREADS 4

#define PKI_TICK_MS 60000

static void on_drop(void *ctx, const char *inbox, const char *entry, int is_dir)
{
	csod_intake_drop(ctx, inbox, entry, is_dir);
}

static void watch_developer(void *ctx, const csod_dev_record *dev)
{
	csod_daemon *d = ctx;
	char inbox[PATH_MAX];
	csod_error err;
	if (csod_developer_make_dirs(d->spool, dev->user, &err) < 0) {
		csod_log(LOG_ERR, NULL, "developer %s: %s", dev->user, err.msg);
		return;
	}
	csod_spool_path(d, inbox, sizeof inbox, "inbox/%s", dev->user);
	csod_watcher_add_inbox(d->watcher, dev->user, inbox);
}

static csod_watcher_config watcher_config(const csod_config *cfg)
{
	csod_watcher_config wc = {cfg->settle_ms, cfg->poll_interval_s * 1000};
	return wc;
}

static int log_level(const char *name)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {{"debug", LOG_DEBUG},
	              {"info", LOG_INFO},
	              {"notice", LOG_NOTICE},
	              {"warning", LOG_WARNING},
	              {"error", LOG_ERR}};
	for (size_t i = 0; name && i < sizeof levels / sizeof levels[0]; i++)
		if (strcmp(name, levels[i].name) == 0)
			return levels[i].level;
	return LOG_INFO;
}

/* Another process (csodctl, another node) committed to the database:
 * developers may have been added. The data version changes only for other
 * connections' commits, so this costs one cheap query when nothing
 * happened. */
static int db_changed_elsewhere(csod_daemon *d, int64_t *last)
{
	int64_t v = csod_db_data_version(d->db);
	int changed = v != *last;
	*last = v;
	return changed;
}

static void mark_view(void *ctx, const char *id)
{
	csod_views_mark(ctx, id);
}

/* requests/<id>/files/ of every request waiting for approval is
 * rewritten for the approvers of now: after a reload, an admin removed or
 * moved loses access, one added gains it; at a start, a request taken in
 * by an older csod gets the folder. */
static void mark_files_views(csod_daemon *d)
{
	csod_requests_in_state(d->db, "created", mark_view, d);
}

static void reload(csod_daemon *d, const char *path, const char *spool_override)
{
	csod_error err;
	csod_service_reloading();
	csod_config *fresh = csod_config_load(path, spool_override, &err);
	if (!fresh) {
		csod_audit_at(d->db, LOG_ERR, "csodd", "config.reload_failed", path,
		              "reload refused, keeping the running configuration: %s", err.msg);
		csod_service_ready("running; the last reload was refused (see the log)");
		return;
	}
	char resolved[PATH_MAX];
	if (!realpath(fresh->spool, resolved) || strcmp(resolved, d->spool) != 0)
		csod_log(LOG_WARNING, NULL, "the spool changed to %s; that takes a restart",
		         fresh->spool);
	csod_config *old = d->cfg;
	d->cfg = fresh;
	csod_pki_set_config(d->pki, fresh);
	csod_mailer_set_config(d->mailer, fresh);
	csod_watcher_config wc = watcher_config(fresh);
	csod_watcher_set_config(d->watcher, &wc);
	if (csod_developers_seed(d->db, fresh, &err) < 0)
		csod_log(LOG_ERR, NULL, "%s", err.msg);
	/* New developers get their certificate before their inbox is watched
	 * (from the local CA; an external CA answers later). */
	if (csod_pki_tick(d->pki, &err) < 0)
		csod_log(LOG_ERR, NULL, "certificates: %s", err.msg);
	csod_developers_each(d->db, watch_developer, d);
	if (csod_approver_dirs_restrict(d->spool, fresh, &err) != 0)
		csod_log(LOG_ERR, NULL, "%s", err.msg);
	mark_files_views(d);
	/* Also with nothing waiting: a removed admin's own page goes. */
	csod_pages_mark_approvers(d);
	csod_config_free(old);
	csod_audit(d->db, "csodd", "config.reload", path,
	           "configuration reloaded: %d developer(s), %d admin(s)", fresh->n_developers,
	           fresh->n_admins);
	csod_service_ready("running");
}

static int start(csod_daemon *d, const char *config_path, const char *spool_override,
                 csod_error *err)
{
	if (csod_spool_prepare(d->cfg->spool, err) < 0)
		return -1;
	if (!realpath(d->cfg->spool, d->spool))
		return csod_fail_errno(err, "spool %s", d->cfg->spool);
	char path[PATH_MAX];
	/* Room for what the daemon adds to it (a request's folder and a file
	 * name of up to NAME_MAX): no spool path is ever cut. */
	if (strlen(d->spool) > PATH_MAX - 512)
		return csod_fail(err, "spool path too long: %s", d->spool);
	/* The database, the master key and the lock live in state_dir (the
	 * spool's state/, or the unit's StateDirectory=, /var/lib/csod). */
	if (strlen(d->cfg->state_dir) > PATH_MAX - 64)
		return csod_fail(err, "state_dir path too long: %s", d->cfg->state_dir);
	if (csod_mkdir_p(d->cfg->state_dir, 0700, err) < 0)
		return -1;
	csod_path(path, sizeof path, "%s/csodd.lock", d->cfg->state_dir);
	d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->lock_fd < 0 || flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return csod_fail(err, "another csodd is running on %s", d->spool);
	/* Who may read outboxes and requests/, also as an older csod left them. */
	csod_outboxes_restrict(d->spool);
	int closed = csod_approver_dirs_restrict(d->spool, d->cfg, err);
	if (closed < 0)
		return -1;
	if (closed > 0)
		csod_log(LOG_ERR, NULL, "%s", err->msg);
	/* Early, so that csodctl can connect as soon as the spool exists; its
	 * connections wait in the backlog until the loop runs. */
	if (!(d->control = csod_control_open(d->cfg, d->spool, config_path, spool_override, err)))
		return -1;
	/* Scratch left by a crash: nothing in tmp/ was ever published. A node
	 * of a cluster has its own, tmp/<node>: the others' is in use. */
	csod_spool_path(d, path, sizeof path, "%s", d->tmp_rel);
	csod_rm_rf(path);
	if (csod_mkdir_p(path, 0700, err) < 0)
		return -1;
	csod_db_location where;
	if (csod_config_db_location(d->cfg, &where, path, sizeof path) < 0)
		return csod_fail(err, "state_dir path too long: %s", d->cfg->state_dir);
	if (!(d->db = csod_db_open_at(&where, 0, err)))
		return -1;
	if (csod_spool_identity_check(d->spool, csod_config_db_name(&where), d->db, err) < 0 ||
	    csod_cluster_join(d, err) < 0)
		return -1;
	if (csod_developers_seed(d->db, d->cfg, err) < 0)
		return -1;
	if (!(d->pki = csod_pki_open(d->cfg, d->db, err)))
		return -1;
	csod_error tick_err;
	if (csod_pki_tick(d->pki, &tick_err) < 0)
		csod_log(LOG_ERR, NULL, "certificates: %s", tick_err.msg);
	d->workers = csod_workers_start(d->cfg->workers, csod_sign_job_run, csod_sign_job_free);
	d->intake_workers =
	    csod_workers_start(INTAKE_THREADS, csod_intake_job_run, csod_intake_job_free);
	if (csod_checks_start(d) < 0)
		return csod_fail(err, "cannot start the pre-sign check threads");
	if (csod_sign_batches_start(d) < 0)
		return csod_fail(err, "cannot start the publisher thread");
	if (csod_views_start(d, VIEW_THREADS) < 0)
		return csod_fail(err, "cannot start the publisher threads");
	csod_watcher_config wc = watcher_config(d->cfg);
	d->watcher = csod_watcher_new(&wc, on_drop, d);
	if (!d->workers || !d->intake_workers || !d->watcher)
		return csod_fail(err, "cannot start the workers or the watcher");
	if (csod_approvals_watch(d, err) < 0)
		return -1;
	if (!(d->mailer = csod_mailer_start(d->cfg, &where, d->node, err)))
		return -1;
	csod_developers_each(d->db, watch_developer, d);
	csod_audit(d->db, "csodd", "daemon.start", d->spool, "pid %d", (int)getpid());
	csod_log(LOG_NOTICE, NULL, "csodd started on %s", d->spool);
	/* What a crash or a stop left: outbox views behind the database,
	 * signing, then unfinished intakes. */
	mark_files_views(d);
	csod_views_recover(d);
	csod_checks_recover(d); /* before intake's: those queue their own */
	/* Signing before intake's: an intake finished here dispatches its
	 * request itself, which would then be in_progress and signed twice. */
	csod_dispatch_recover(d);
	csod_intake_recover(d);
	csod_approvals_scan(d);
	csod_watcher_scan(d->watcher, csod_monotonic_ms());
	return 0;
}

static void stop(csod_daemon *d)
{
	csod_control_close(d->control);
	/* Intakes still queued stay in store/incoming for the next start. */
	csod_workers_stop(d->intake_workers);
	csod_checks_stop(d);
	csod_workers_stop(d->workers);
	csod_sign_batches_stop(d);
	csod_views_stop(d);
	csod_space_stop(d);
	if (d->mailer)
		csod_mailer_stop(d->mailer);
	csod_watcher_free(d->watcher);
	if (d->approvals_fd >= 0)
		close(d->approvals_fd);
	csod_pki_close(d->pki);
	if (d->db) {
		csod_audit(d->db, "csodd", "daemon.stop", d->spool, "pid %d", (int)getpid());
		csod_cluster_leave(d);
	}
	csod_db_close(d->db);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	csod_config_free(d->cfg);
}

static int add_fd(int ep, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	return fd < 0 ? 0 : epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int64_t min_deadline(int64_t a, int64_t b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

int csod_daemon_run(csod_config *cfg, const char *config_path, const char *spool_override)
{
	csod_daemon d;
	memset(&d, 0, sizeof d);
	d.cfg = cfg;
	d.approvals_fd = -1;
	d.lock_fd = -1;
	csod_config_node_name(cfg, d.node, sizeof d.node);
	snprintf(d.node_tag, sizeof d.node_tag, "%s%s", cfg->node ? "@" : "",
	         cfg->node ? d.node : "");
	snprintf(d.tmp_rel, sizeof d.tmp_rel, "tmp%s%s", cfg->node ? "/" : "",
	         cfg->node ? d.node : "");
	csod_log_open("csodd", csod_log_target(), log_level(cfg->log_level));
	signal(SIGPIPE, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	csod_error err;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (start(&d, config_path, spool_override, &err) < 0 || sig_fd < 0 || ep < 0) {
		csod_log(LOG_ERR, NULL, "cannot start: %s", err.msg);
		stop(&d);
		return -1;
	}
	add_fd(ep, csod_watcher_fd(d.watcher));
	add_fd(ep, d.approvals_fd);
	add_fd(ep, sig_fd);
	add_fd(ep, csod_workers_fd(d.workers));
	add_fd(ep, csod_sign_batches_fd(&d));
	add_fd(ep, csod_workers_fd(d.intake_workers));
	add_fd(ep, csod_checks_fd(&d));
	add_fd(ep, csod_views_fd(&d));
	add_fd(ep, csod_pki_fd(d.pki));
	add_fd(ep, csod_control_fd(d.control));

	int64_t data_version = 0, next_scan = 0, next_pki = 0, next_expiry = 0;
	db_changed_elsewhere(&d, &data_version);
	/* The start-up scan ran in start(): drops and markers left while the
	 * daemon was down are already being taken. */
	csod_service_ready("running");
	int64_t watchdog_ms = csod_service_watchdog_ms(), next_watchdog = 0;
	int running = 1;
	while (running) {
		int64_t now = csod_monotonic_ms();
		/* Fed from the loop itself: a loop stuck anywhere starves it. */
		if (watchdog_ms && now >= next_watchdog) {
			csod_service_watchdog();
			next_watchdog = now + watchdog_ms;
		}
		if (now >= next_scan) {
			/* The safety net: markers and developers that came without an
			 * inotify event (remote writers, csodctl). */
			csod_approvals_scan(&d);
			csod_intake_check_strays(&d);
			csod_pki_collect(d.pki);
			/* Requests waiting for a certificate that may have come. */
			csod_dispatch_waiting(&d);
			if (db_changed_elsewhere(&d, &data_version)) {
				/* Enroll developers added by csodctl before their inbox is
				 * watched, so that their first drop finds a certificate
				 * (from the local CA; an external CA answers later). */
				if (csod_pki_tick(d.pki, &err) < 0)
					csod_log(LOG_ERR, NULL, "certificates: %s", err.msg);
				csod_developers_each(d.db, watch_developer, &d);
				/* csodctl may have queued mail (resend, welcome). */
				csod_mailer_wake(d.mailer);
			}
			int64_t every =
			    d.cfg->poll_interval_s > 0 ? d.cfg->poll_interval_s * 1000 : 60000;
			next_scan = now + every;
		}
		if (now >= next_pki) {
			if (csod_pki_tick(d.pki, &err) < 0)
				csod_log(LOG_ERR, NULL, "certificates: %s", err.msg);
			next_pki = now + PKI_TICK_MS;
		}
		if (next_expiry >= 0 && csod_now() >= next_expiry) {
			int64_t at = csod_retention_run(&d);
			next_expiry = at ? at : -1;
		}
		int64_t wait = csod_watcher_tick(d.watcher, now);
		/* Work that waits for room on the spool, while any does. */
		wait = min_deadline(wait, csod_space_tick(&d, now));
		wait = min_deadline(wait, next_scan - now);
		wait = min_deadline(wait, next_pki - now);
		/* The node's heartbeat, and what dead nodes left. */
		wait = min_deadline(wait, csod_cluster_tick(&d, now));
		if (watchdog_ms)
			wait = min_deadline(wait, next_watchdog - now);
		wait = min_deadline(wait, csod_control_tick(d.control, now));
		/* Status pages follow work in progress, once a second. */
		wait = min_deadline(wait, csod_pages_tick(&d));
		if (next_expiry > 0)
			wait = min_deadline(wait, (next_expiry - csod_now()) * 1000);
		if (wait < 0)
			wait = 0;
		/* Everything this turn changed, shown once before sleeping. */
		csod_views_flush(&d);
		wait = min_deadline(wait, csod_pages_held_ms(&d));
		struct epoll_event events[8];
		int n = epoll_wait(ep, events, 8, (int)(wait > 60000 ? 60000 : wait));
		if (n < 0 && errno != EINTR) {
			csod_log(LOG_ERR, NULL, "epoll: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			if (fd == csod_watcher_fd(d.watcher)) {
				csod_watcher_on_events(d.watcher, csod_monotonic_ms());
			} else if (fd == d.approvals_fd) {
				csod_approvals_scan(&d);
			} else if (fd == csod_views_fd(&d)) {
				csod_views_collect(&d);
			} else if (fd == csod_workers_fd(d.intake_workers)) {
				csod_intake_collect(&d);
			} else if (fd == csod_checks_fd(&d)) {
				csod_checks_collect(&d);
			} else if (fd == csod_workers_fd(d.workers)) {
				csod_dispatch_collect(&d);
			} else if (fd == csod_sign_batches_fd(&d)) {
				csod_dispatch_published(&d);
				/* A new signed request may expire before the known next. */
				next_expiry = 0;
			} else if (fd == csod_control_fd(d.control)) {
				csod_control_on_events(d.control, csod_monotonic_ms());
			} else if (fd == csod_pki_fd(d.pki)) {
				csod_pki_take_answers(d.pki);
				csod_dispatch_waiting(&d);
			} else if (fd == sig_fd) {
				struct signalfd_siginfo si;
				while (read(sig_fd, &si, sizeof si) == sizeof si) {
					if (si.ssi_signo == SIGHUP)
						reload(&d, config_path, spool_override);
					else
						running = 0;
				}
			}
		}
	}
	csod_log(LOG_NOTICE, NULL, "csodd stopping");
	csod_service_stopping();
	close(ep);
	close(sig_fd);
	stop(&d);
	return 0;
}
