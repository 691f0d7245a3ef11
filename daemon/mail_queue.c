/* The mail queue. A message is a row before anything is sent and stays one
 * until a server (or the spool) took it, refused it for good (a 5xx to its
 * recipient or its content: "failed"), or it grew older than mail.max_age
 * ("dead"); so a crash or an SMTP outage loses nothing. Giving up is
 * audited. Date and Message-ID are the row's, fixed when it was queued:
 * every attempt sends the same message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "audit.h"
#include "email_address.h"
#include "mail_queue.h"

#define BACKOFF_FIRST_S 30
#define BACKOFF_MAX_S   3600

int csod_mail_enqueue(csod_db *db, const char *kind, const char *request_id, const char *recipient,
                      const char *subject, const char *body, csod_error *err)
{
	/* The recipient becomes a header: one plain address, never a second
	 * line (an address recorded before addresses were checked). */
	if (csod_email_check(recipient, err) < 0)
		return -1;
	csod_stmt *st = csod_db_prepare(
	    db,
	    "INSERT INTO mail_queue(created, kind, request_id, recipient, subject, body, "
	    "next_attempt, date, message_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    err);
	if (!st)
		return -1;
	char date[64], message_id[128];
	csod_mail_stamp(date, message_id);
	int64_t now = csod_now();
	csod_db_bind_int64(st, 1, now);
	csod_db_bind_text(st, 2, kind);
	csod_db_bind_text(st, 3, request_id);
	csod_db_bind_text(st, 4, recipient);
	csod_db_bind_text(st, 5, subject);
	csod_db_bind_text(st, 6, body);
	csod_db_bind_int64(st, 7, now);
	csod_db_bind_text(st, 8, date);
	csod_db_bind_text(st, 9, message_id);
	int rc = csod_db_step(st) == CSOD_DB_DONE
	             ? 0
	             : csod_fail(err, "database: %s", csod_db_errmsg(db));
	csod_db_finalize(st);
	return rc;
}

typedef struct due_mail {
	int64_t id, created;
	int attempts;
	char *kind, *recipient, *subject, *body, *request_id, *date, *message_id;
} due_mail;

static char *column(csod_stmt *st, int i)
{
	const char *s = csod_db_text(st, i);
	return s ? strdup(s) : NULL;
}

static void due_free(due_mail *m)
{
	free(m->kind);
	free(m->recipient);
	free(m->subject);
	free(m->body);
	free(m->request_id);
	free(m->date);
	free(m->message_id);
}

/* 1 with the oldest due message no live node holds in m, 0 for none, -1
 * on error. */
static int load_due(csod_db *db, const char *node, due_mail *m)
{
	memset(m, 0, sizeof *m);
	csod_stmt *st = csod_db_prepare(
	    db,
	    "SELECT id, created, attempts, kind, recipient, subject, body, request_id, date, "
	    "message_id FROM mail_queue WHERE state = 'queued' AND next_attempt <= ? "
	    "AND (claimed_by IS NULL OR claimed_by = ? OR lease_until < ?) ORDER BY id LIMIT 1",
	    NULL);
	if (!st)
		return -1;
	csod_db_bind_int64(st, 1, csod_now());
	csod_db_bind_text(st, 2, node);
	csod_db_bind_int64(st, 3, csod_now());
	int rc = csod_db_step(st);
	if (rc == CSOD_DB_ROW) {
		m->id = csod_db_column_int64(st, 0);
		m->created = csod_db_column_int64(st, 1);
		m->attempts = csod_db_column_int(st, 2);
		m->kind = column(st, 3);
		m->recipient = column(st, 4);
		m->subject = column(st, 5);
		m->body = column(st, 6);
		m->request_id = column(st, 7);
		m->date = column(st, 8);
		m->message_id = column(st, 9);
	}
	csod_db_finalize(st);
	if (rc == CSOD_DB_ROW && (!m->kind || !m->recipient || !m->subject || !m->body)) {
		due_free(m);
		return -1;
	}
	return rc == CSOD_DB_ROW ? 1 : rc == CSOD_DB_DONE ? 0 : -1;
}

/* A row queued before messages kept their Date and Message-ID gets them
 * at its first attempt, and keeps them. */
static int stamp_if_missing(csod_db *db, due_mail *m)
{
	if (m->date && m->message_id)
		return 0;
	char date[64], message_id[128];
	csod_mail_stamp(date, message_id);
	free(m->date);
	free(m->message_id);
	m->date = strdup(date);
	m->message_id = strdup(message_id);
	csod_stmt *st = csod_db_prepare(
	    db, "UPDATE mail_queue SET date = ?, message_id = ? WHERE id = ?", NULL);
	if (!st || !m->date || !m->message_id) {
		csod_db_finalize(st);
		return -1;
	}
	csod_db_bind_text(st, 1, date);
	csod_db_bind_text(st, 2, message_id);
	csod_db_bind_int64(st, 3, m->id);
	int rc = csod_db_step(st) == CSOD_DB_DONE ? 0 : -1;
	csod_db_finalize(st);
	return rc;
}

/* Claims message id for node (cluster.h): 1 when this node may send it, 0
 * when another took it first, -1 on error. The claim ends with the
 * attempt's record, or when its lease runs out (the node died mid-send:
 * the message is sent again, its Message-ID the same). */
static int claim(csod_db *db, int64_t id, const char *node, int64_t lease_s)
{
	csod_stmt *st =
	    csod_db_prepare(db,
	                    "UPDATE mail_queue SET claimed_by = ?, lease_until = ? WHERE id = ? "
	                    "AND state = 'queued'"
	                    " AND (claimed_by IS NULL OR claimed_by = ? OR lease_until < ?)",
	                    NULL);
	if (!st)
		return -1;
	int64_t now = csod_now();
	csod_db_bind_text(st, 1, node);
	csod_db_bind_int64(st, 2, now + lease_s);
	csod_db_bind_int64(st, 3, id);
	csod_db_bind_text(st, 4, node);
	csod_db_bind_int64(st, 5, now);
	int rc = csod_db_step(st) == CSOD_DB_DONE ? csod_db_changes(db) == 1 : -1;
	csod_db_finalize(st);
	return rc;
}

/* Records an attempt; with audit_action (giving up), audits it in the
 * same transaction, the audit's log line (an error) saying why. */
static int record(csod_db *db, const due_mail *m, const char *state, int64_t next,
                  const char *error, const char *audit_action)
{
	if (csod_db_begin(db) < 0)
		return -1;
	csod_stmt *st = csod_db_prepare(
	    db,
	    "UPDATE mail_queue SET state = ?, attempts = ?, next_attempt = ?, last_error = ?, "
	    "claimed_by = NULL, lease_until = NULL, sent = CASE WHEN ? = 'sent' THEN ? ELSE sent "
	    "END WHERE id = ?",
	    NULL);
	int rc = -1;
	if (st) {
		csod_db_bind_text(st, 1, state);
		csod_db_bind_int(st, 2, m->attempts + 1);
		csod_db_bind_int64(st, 3, next);
		csod_db_bind_text(st, 4, error);
		csod_db_bind_text(st, 5, state);
		csod_db_bind_int64(st, 6, csod_now());
		csod_db_bind_int64(st, 7, m->id);
		rc = csod_db_step(st) == CSOD_DB_DONE ? 0 : -1;
		csod_db_finalize(st);
	}
	if (rc == 0 && audit_action)
		rc = csod_audit_at(db, LOG_ERR, "csodd", audit_action,
		                   m->request_id ? m->request_id : m->recipient,
		                   "mail %lld (%s) to %s after %d attempt(s): %s", (long long)m->id,
		                   m->kind, m->recipient, m->attempts + 1, error);
	if (rc == 0 && csod_db_commit(db) == 0)
		return 0;
	csod_db_rollback(db);
	return -1;
}

static enum csod_mail_result attempt(const due_mail *m, const csod_mail_config *mc,
                                     const char *spool, csod_mail_abort *abort, csod_error *err)
{
	char *msg =
	    csod_mail_format(mc->from, m->recipient, m->subject, m->date, m->message_id, m->body);
	enum csod_mail_result rc = CSOD_MAIL_SENT; /* transport none: nothing to deliver */
	if (!msg) {
		csod_fail(err, "the message cannot be formatted");
		rc = CSOD_MAIL_RETRY;
	} else if (strcmp(mc->transport, "smtp") == 0) {
		rc = csod_mail_send_smtp(mc, m->recipient, msg, abort, err);
	} else if (strcmp(mc->transport, "spool") == 0) {
		rc = csod_mail_send_spool(spool, msg, err);
	}
	free(msg);
	return rc;
}

/* One line, as stored and shown: a server's CR LF is no part of it. */
static void one_line(char *s)
{
	for (char *c = s; *c; c++)
		if (*c == '\r' || *c == '\n')
			*c = ' ';
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
}

static int deliver(csod_db *db, due_mail *m, const csod_mail_config *mc, const char *spool,
                   csod_mail_abort *abort)
{
	csod_error err = {.msg = "out of memory"};
	enum csod_mail_result rc = CSOD_MAIL_REFUSED;
	/* Queued before addresses were checked: never deliverable. */
	if (csod_email_check(m->recipient, &err) == 0) {
		if (stamp_if_missing(db, m) < 0)
			return -1;
		rc = attempt(m, mc, spool, abort, &err);
	}
	if (rc == CSOD_MAIL_SENT)
		return record(db, m, "sent", 0, NULL, NULL);
	if (csod_mail_aborted(abort))
		return 0; /* cut off by the stop: not an attempt, still queued */
	one_line(err.msg);
	if (rc == CSOD_MAIL_REFUSED) /* final: not retried */
		return record(db, m, "failed", 0, err.msg, "mail.failed");
	int64_t now = csod_now();
	if (now - m->created > mc->max_age_s) /* given up */
		return record(db, m, "dead", 0, err.msg, "mail.dead");
	int64_t wait = mc->retry_s > 0 ? mc->retry_s : BACKOFF_FIRST_S;
	for (int i = 0; i < m->attempts && wait < BACKOFF_MAX_S; i++)
		wait *= 2;
	if (wait > BACKOFF_MAX_S)
		wait = BACKOFF_MAX_S;
	csod_log(LOG_WARNING, m->request_id, "mail to %s not delivered (retry in %llds): %s",
	         m->recipient, (long long)wait, err.msg);
	return record(db, m, "queued", now + wait, err.msg, NULL);
}

static int64_t seconds_to_next(csod_db *db)
{
	csod_stmt *st = csod_db_prepare(
	    db, "SELECT MIN(next_attempt) FROM mail_queue WHERE state = 'queued'", NULL);
	int64_t next = 60;
	if (st && csod_db_step(st) == CSOD_DB_ROW && !csod_db_column_is_null(st, 0)) {
		next = csod_db_column_int64(st, 0) - csod_now();
		if (next < 1)
			next = 1; /* due now, but it just failed: not a busy loop */
		if (next > 60)
			next = 60;
	}
	csod_db_finalize(st);
	return next;
}

int64_t csod_mail_send_next(csod_db *db, const csod_mail_config *mc, const char *spool,
                            const char *node, int64_t lease_s, csod_mail_abort *abort)
{
	due_mail m;
	int found = load_due(db, node, &m);
	if (found == 0)
		return seconds_to_next(db);
	if (found > 0) {
		int mine = claim(db, m.id, node, lease_s);
		if (mine <= 0) {
			/* Another node took it between the look and the claim. */
			due_free(&m);
			return mine == 0 ? 0 : 5;
		}
	}
	/* A database that fails now may work in a moment; a row that could not
	 * be updated must not be tried again at once, and again. */
	int rc = found > 0 ? deliver(db, &m, mc, spool, abort) : -1;
	due_free(&m);
	return rc == 0 ? 0 : 5;
}
