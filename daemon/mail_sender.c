/* The mailer thread. It sends one message at a time with a copy of the
 * mail settings taken for that message, and holds no lock while it talks
 * to a server: a reload swaps the settings for the next message, a wake-up
 * never waits, and a stop shuts the session's socket down (mail_session.c)
 * and waits at most STOP_WAIT_S for the thread. A message cut off that way
 * stays queued, its attempt not counted. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/log.h"
#include "mail_queue.h"

#define STOP_WAIT_S 1

struct csod_mailer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake, exited_cond; /* on CLOCK_MONOTONIC */
	int stopping, woken, exited, abandoned;
	csod_mail_config settings; /* a copy: a reload frees the config it came from */
	csod_mail_abort abort;
	csod_db *db;
	char spool[PATH_MAX];
	char node[64]; /* whose claim a message carries while it is sent */
	int64_t lease_s;
};

static void settings_clear(csod_mail_config *s)
{
	free(s->transport);
	free(s->from);
	free(s->host);
	free(s->starttls);
	free(s->user);
	free(s->password_file);
	free(s->ca_file);
	free(s->templates);
	memset(s, 0, sizeof *s);
}

static int copy_text(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return src && !*dst ? -1 : 0;
}

static int settings_copy(csod_mail_config *dst, const csod_mail_config *src)
{
	*dst = *src;
	int rc = copy_text(&dst->transport, src->transport);
	rc |= copy_text(&dst->from, src->from);
	rc |= copy_text(&dst->host, src->host);
	rc |= copy_text(&dst->starttls, src->starttls);
	rc |= copy_text(&dst->user, src->user);
	rc |= copy_text(&dst->password_file, src->password_file);
	rc |= copy_text(&dst->ca_file, src->ca_file);
	rc |= copy_text(&dst->templates, src->templates);
	if (rc == 0 && dst->transport)
		return 0;
	settings_clear(dst);
	return -1;
}

static void mailer_free(csod_mailer *mr)
{
	pthread_mutex_destroy(&mr->lock);
	pthread_cond_destroy(&mr->wake);
	pthread_cond_destroy(&mr->exited_cond);
	csod_mail_abort_destroy(&mr->abort);
	settings_clear(&mr->settings);
	csod_db_close(mr->db);
	free(mr);
}

static struct timespec in_seconds(int64_t s)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += s;
	return t;
}

static void *mailer_main(void *arg)
{
	csod_mailer *mr = arg;
	for (;;) {
		csod_mail_config now;
		pthread_mutex_lock(&mr->lock);
		int stop = mr->stopping;
		int copied = stop ? -1 : settings_copy(&now, &mr->settings);
		mr->woken = 0; /* what is queued from here on, the next look sees */
		pthread_mutex_unlock(&mr->lock);
		if (stop)
			break;
		int64_t wait = 5;
		if (copied == 0) {
			wait = csod_mail_send_next(mr->db, &now, mr->spool, mr->node, mr->lease_s,
			                           &mr->abort);
			settings_clear(&now);
		}
		pthread_mutex_lock(&mr->lock);
		if (wait > 0 && !mr->stopping && !mr->woken) {
			struct timespec until = in_seconds(wait);
			pthread_cond_timedwait(&mr->wake, &mr->lock, &until);
		}
		pthread_mutex_unlock(&mr->lock);
	}
	pthread_mutex_lock(&mr->lock);
	mr->exited = 1;
	int abandoned = mr->abandoned;
	pthread_cond_broadcast(&mr->exited_cond);
	pthread_mutex_unlock(&mr->lock);
	if (abandoned)
		mailer_free(mr); /* the stop did not wait: what is left is ours */
	return NULL;
}

static int monotonic_cond(pthread_cond_t *c)
{
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(c, &attr);
	pthread_condattr_destroy(&attr);
	return rc;
}

csod_mailer *csod_mailer_start(const csod_config *cfg, const csod_db_location *loc,
                               const char *node, csod_error *err)
{
	csod_mailer *mr = calloc(1, sizeof *mr);
	if (!mr || settings_copy(&mr->settings, &cfg->mail) < 0) {
		free(mr);
		csod_fail(err, "out of memory");
		return NULL;
	}
	if (!realpath(cfg->spool, mr->spool))
		snprintf(mr->spool, sizeof mr->spool, "%s", cfg->spool);
	pthread_mutex_init(&mr->lock, NULL);
	monotonic_cond(&mr->wake);
	monotonic_cond(&mr->exited_cond);
	csod_mail_abort_init(&mr->abort);
	snprintf(mr->node, sizeof mr->node, "%s", node);
	mr->lease_s = cfg->node_lease_s;
	if (!(mr->db = csod_db_open_at(loc, 0, err))) {
		mailer_free(mr);
		return NULL;
	}
	if (pthread_create(&mr->thread, NULL, mailer_main, mr) != 0) {
		mailer_free(mr);
		csod_fail(err, "cannot start the mail thread");
		return NULL;
	}
	return mr;
}

void csod_mailer_wake(csod_mailer *mr)
{
	pthread_mutex_lock(&mr->lock);
	mr->woken = 1;
	pthread_cond_signal(&mr->wake);
	pthread_mutex_unlock(&mr->lock);
}

void csod_mailer_set_config(csod_mailer *mr, const csod_config *cfg)
{
	csod_mail_config fresh, old;
	if (settings_copy(&fresh, &cfg->mail) < 0) {
		csod_log(LOG_ERR, NULL, "mail: out of memory; the previous mail settings stay");
		return;
	}
	pthread_mutex_lock(&mr->lock);
	old = mr->settings;
	mr->settings = fresh;
	pthread_mutex_unlock(&mr->lock);
	settings_clear(&old);
}

void csod_mailer_stop(csod_mailer *mr)
{
	pthread_mutex_lock(&mr->lock);
	mr->stopping = 1;
	pthread_cond_signal(&mr->wake);
	pthread_mutex_unlock(&mr->lock);
	csod_mail_abort_now(&mr->abort);
	struct timespec until = in_seconds(STOP_WAIT_S);
	pthread_mutex_lock(&mr->lock);
	while (!mr->exited)
		if (pthread_cond_timedwait(&mr->exited_cond, &mr->lock, &until) == ETIMEDOUT)
			break;
	int exited = mr->exited;
	mr->abandoned = !exited;
	pthread_mutex_unlock(&mr->lock);
	if (!exited) {
		/* Still in a name lookup or a connect, which take neither a
		 * timeout nor an abort: the thread is left to end on its own (or
		 * with the process); its message stays queued. */
		csod_log(LOG_WARNING, NULL,
		         "mail: a delivery still connecting after %d s is left behind; its message "
		         "stays queued",
		         STOP_WAIT_S);
		pthread_detach(mr->thread);
		return;
	}
	pthread_join(mr->thread, NULL);
	mailer_free(mr);
}
