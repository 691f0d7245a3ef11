/* The mail queue and its sender thread. A message is a row before anything
 * is sent and stays one until a server (or the spool) accepted it, so a
 * crash or an SMTP outage loses nothing. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/log.h"
#include "email_address.h"
#include "mail.h"

#define BACKOFF_FIRST_S 30
#define BACKOFF_MAX_S   3600

struct csod_mailer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stopping, woken;
	const csod_config *cfg;
	csod_db *db;
	char spool[PATH_MAX];
};

int csod_mail_enqueue(csod_db *db, const char *kind, const char *request_id, const char *recipient,
                      const char *subject, const char *body, csod_error *err)
{
	/* The recipient becomes a header: one plain address, never a second
	 * line (an address recorded before addresses were checked). */
	if (csod_email_check(recipient, err) < 0)
		return -1;
	sqlite3_stmt *st = csod_db_prepare(
	    db,
	    "INSERT INTO mail_queue(created, kind, request_id, recipient, subject, body, "
	    "next_attempt) VALUES(?, ?, ?, ?, ?, ?, ?)",
	    err);
	if (!st)
		return -1;
	int64_t now = csod_now();
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, request_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, recipient, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, body, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, now);
	int rc = sqlite3_step(st) == SQLITE_DONE
	             ? 0
	             : csod_fail(err, "database: %s", sqlite3_errmsg(db->sql));
	sqlite3_finalize(st);
	return rc;
}

typedef struct due_mail {
	int64_t id, created;
	int attempts;
	char *recipient, *subject, *body, *request_id;
} due_mail;

static void mark(csod_db *db, const due_mail *m, const char *state, int64_t next, const char *error)
{
	sqlite3_stmt *st = csod_db_prepare(
	    db,
	    "UPDATE mail_queue SET state = ?, attempts = ?, next_attempt = ?, last_error = ?, "
	    "sent = CASE WHEN ? = 'sent' THEN ? ELSE sent END WHERE id = ?",
	    NULL);
	if (!st)
		return;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, m->attempts + 1);
	sqlite3_bind_int64(st, 3, next);
	sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, csod_now());
	sqlite3_bind_int64(st, 7, m->id);
	sqlite3_step(st);
	sqlite3_finalize(st);
}

static void deliver(csod_mailer *mr, const csod_config *cfg, due_mail *m)
{
	csod_error err = {.msg = "out of memory"};
	if (csod_email_check(m->recipient, &err) < 0) {
		/* Queued before addresses were checked: never deliverable. */
		mark(mr->db, m, "dead", 0, err.msg);
		csod_log(LOG_ERR, m->request_id, "mail not sent: %s", err.msg);
		return;
	}
	char *msg = csod_mail_format(cfg->mail.from, m->recipient, m->subject, m->body);
	int rc = -1;
	if (msg && strcmp(cfg->mail.transport, "smtp") == 0)
		rc = csod_mail_send_smtp(&cfg->mail, m->recipient, msg, &err);
	else if (msg && strcmp(cfg->mail.transport, "spool") == 0)
		rc = csod_mail_send_spool(mr->spool, msg, &err);
	else if (msg)
		rc = 0; /* transport none: nothing to deliver */
	free(msg);
	if (rc == 0) {
		mark(mr->db, m, "sent", 0, NULL);
		return;
	}
	int64_t now = csod_now();
	if (now - m->created > cfg->mail.max_age_s) {
		mark(mr->db, m, "dead", 0, err.msg);
		csod_log(LOG_ERR, m->request_id, "mail to %s given up after %d attempts: %s",
		         m->recipient, m->attempts + 1, err.msg);
		return;
	}
	int64_t wait = cfg->mail.retry_s > 0 ? cfg->mail.retry_s : BACKOFF_FIRST_S;
	for (int i = 0; i < m->attempts && wait < BACKOFF_MAX_S; i++)
		wait *= 2;
	if (wait > BACKOFF_MAX_S)
		wait = BACKOFF_MAX_S;
	mark(mr->db, m, "queued", now + wait, err.msg);
	csod_log(LOG_WARNING, m->request_id, "mail to %s not delivered (retry in %llds): %s",
	         m->recipient, (long long)wait, err.msg);
}

/* Sends what is due; returns seconds until the next attempt (or 60). */
static int64_t send_due(csod_mailer *mr, const csod_config *cfg)
{
	sqlite3_stmt *st = csod_db_prepare(
	    mr->db,
	    "SELECT id, created, attempts, recipient, subject, body, request_id FROM mail_queue "
	    "WHERE state = 'queued' AND next_attempt <= ? ORDER BY id LIMIT 50",
	    NULL);
	if (!st)
		return 5;
	sqlite3_bind_int64(st, 1, csod_now());
	due_mail batch[50];
	int n = 0;
	while (n < 50 && sqlite3_step(st) == SQLITE_ROW) {
		due_mail *m = &batch[n++];
		m->id = sqlite3_column_int64(st, 0);
		m->created = sqlite3_column_int64(st, 1);
		m->attempts = sqlite3_column_int(st, 2);
		m->recipient = strdup(csod_db_text(st, 3));
		m->subject = strdup(csod_db_text(st, 4));
		m->body = strdup(csod_db_text(st, 5));
		const char *rid = csod_db_text(st, 6);
		m->request_id = rid ? strdup(rid) : NULL;
	}
	sqlite3_finalize(st);
	for (int i = 0; i < n; i++) {
		deliver(mr, cfg, &batch[i]);
		free(batch[i].recipient);
		free(batch[i].subject);
		free(batch[i].body);
		free(batch[i].request_id);
	}
	if (n == 50)
		return 0;
	st = csod_db_prepare(
	    mr->db, "SELECT MIN(next_attempt) FROM mail_queue WHERE state = 'queued'", NULL);
	int64_t next = 60;
	if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		next = sqlite3_column_int64(st, 0) - csod_now();
		if (next < 1)
			next = 1; /* due now, but it just failed: not a busy loop */
		if (next > 60)
			next = 60;
	}
	sqlite3_finalize(st);
	return next;
}

static void *mailer_main(void *arg)
{
	csod_mailer *mr = arg;
	pthread_mutex_lock(&mr->lock);
	while (!mr->stopping) {
		/* The config is read under the lock, so a reload cannot free it
		 * under us; sending happens with the lock held for that reason. */
		int64_t wait = send_due(mr, mr->cfg);
		if (mr->stopping)
			break;
		if (wait > 0 && !mr->woken) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += wait;
			pthread_cond_timedwait(&mr->wake, &mr->lock, &until);
		}
		mr->woken = 0;
	}
	pthread_mutex_unlock(&mr->lock);
	return NULL;
}

csod_mailer *csod_mailer_start(const csod_config *cfg, const char *db_path, csod_error *err)
{
	csod_mailer *mr = calloc(1, sizeof *mr);
	if (!mr) {
		csod_fail(err, "out of memory");
		return NULL;
	}
	mr->cfg = cfg;
	if (!realpath(cfg->spool, mr->spool))
		snprintf(mr->spool, sizeof mr->spool, "%s", cfg->spool);
	if (!(mr->db = csod_db_open(db_path, 0, err))) {
		free(mr);
		return NULL;
	}
	pthread_mutex_init(&mr->lock, NULL);
	pthread_cond_init(&mr->wake, NULL);
	if (pthread_create(&mr->thread, NULL, mailer_main, mr) != 0) {
		csod_db_close(mr->db);
		free(mr);
		csod_fail(err, "cannot start the mail thread");
		return NULL;
	}
	return mr;
}

void csod_mailer_wake(csod_mailer *mr)
{
	/* Never blocks the event loop: if the thread is busy sending, it looks
	 * at the queue again before it sleeps. */
	if (pthread_mutex_trylock(&mr->lock) == 0) {
		mr->woken = 1;
		pthread_cond_signal(&mr->wake);
		pthread_mutex_unlock(&mr->lock);
	} else {
		__atomic_store_n(&mr->woken, 1, __ATOMIC_SEQ_CST);
	}
}

void csod_mailer_set_config(csod_mailer *mr, const csod_config *cfg)
{
	pthread_mutex_lock(&mr->lock);
	mr->cfg = cfg;
	pthread_mutex_unlock(&mr->lock);
}

void csod_mailer_stop(csod_mailer *mr)
{
	pthread_mutex_lock(&mr->lock);
	mr->stopping = 1;
	pthread_cond_signal(&mr->wake);
	pthread_mutex_unlock(&mr->lock);
	pthread_join(mr->thread, NULL);
	pthread_mutex_destroy(&mr->lock);
	pthread_cond_destroy(&mr->wake);
	csod_db_close(mr->db);
	free(mr);
}
