#include "audit.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "../lib/log.h"

#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

static void entry_hash(const char *prev, int64_t time, const char *actor, const char *action,
                       const char *object, const char *detail, char out[65])
{
	/* Fields are length-prefixed so that no two different rows hash alike. */
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	const char *fields[] = {prev, actor, action, object ? object : "", detail ? detail : ""};
	char buf[32];
	snprintf(buf, sizeof buf, "%lld|", (long long)time);
	EVP_DigestUpdate(ctx, buf, strlen(buf));
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		snprintf(buf, sizeof buf, "%zu:", strlen(fields[i]));
		EVP_DigestUpdate(ctx, buf, strlen(buf));
		EVP_DigestUpdate(ctx, fields[i], strlen(fields[i]));
	}
	unsigned char md[32];
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The audit row's one log line: request events carry the request's id in
 * the usual [id] form, so that `journalctl | grep ID` finds them too. */
static void log_event(int level, const char *actor, const char *action, const char *object,
                      const char *detail)
{
	int about_request =
	    object && (strncmp(action, "request.", 8) == 0 || strncmp(action, "approval.", 9) == 0);
	csod_log(level, about_request ? object : NULL, "audit: %s %s%s%s%s%s", actor, action,
	         about_request || !object ? "" : " ", about_request || !object ? "" : object,
	         detail[0] ? " " : "", detail);
}

static int audit_record(csod_db *db, int level, const char *actor, const char *action,
                        const char *object, const char *detail);

static int audit_v(csod_db *db, int level, const char *actor, const char *action,
                   const char *object, const char *detail_fmt, va_list ap)
{
	char detail[2048] = "";
	if (detail_fmt)
		vsnprintf(detail, sizeof detail, detail_fmt, ap);
	return audit_record(db, level, actor, action, object, detail);
}

int csod_audit(csod_db *db, const char *actor, const char *action, const char *object,
               const char *detail_fmt, ...)
{
	va_list ap;
	va_start(ap, detail_fmt);
	int rc = audit_v(db, LOG_NOTICE, actor, action, object, detail_fmt, ap);
	va_end(ap);
	return rc;
}

int csod_audit_at(csod_db *db, int level, const char *actor, const char *action, const char *object,
                  const char *detail_fmt, ...)
{
	va_list ap;
	va_start(ap, detail_fmt);
	int rc = audit_v(db, level, actor, action, object, detail_fmt, ap);
	va_end(ap);
	return rc;
}

static int audit_record(csod_db *db, int level, const char *actor, const char *action,
                        const char *object, const char *detail)
{
	log_event(level, actor, action, object, detail);
	/* Outside a transaction: take the write lock first, so that csodd and
	 * csodctl appending at once queue up instead of forking the chain.
	 * Inside one, a savepoint nests in the caller's. */
	int own = !csod_db_in_transaction(db);
	if ((own ? csod_db_begin(db) : csod_db_exec(db, "SAVEPOINT audit", NULL)) < 0)
		return -1;
	/* PostgreSQL takes no table lock for the read below: every appender,
	 * on every node, queues on one transaction-scoped advisory lock, so
	 * that the chain stays one chain. SQLite's write lock does that. */
	if (csod_db_is_postgresql(db) &&
	    csod_db_exec(db, "SELECT pg_advisory_xact_lock(7366307)", NULL) < 0) {
		csod_db_exec(db, own ? "ROLLBACK" : "ROLLBACK TO audit", NULL);
		return -1;
	}
	char prev[65] = GENESIS;
	csod_stmt *st = csod_db_cached(db, "SELECT hash FROM audit ORDER BY id DESC LIMIT 1", NULL);
	if (st && csod_db_step(st) == CSOD_DB_ROW)
		snprintf(prev, sizeof prev, "%s", csod_db_text(st, 0));
	csod_db_release(st);
	int64_t now = csod_now();
	char hash[65];
	entry_hash(prev, now, actor, action, object, detail, hash);
	st =
	    csod_db_cached(db,
	                   "INSERT INTO audit(time, actor, action, object, detail, prev_hash, hash)"
	                   " VALUES(?, ?, ?, ?, ?, ?, ?) RETURNING id",
	                   NULL);
	int rc = -1;
	int64_t id = 0;
	if (st) {
		csod_db_bind_int64(st, 1, now);
		csod_db_bind_text(st, 2, actor);
		csod_db_bind_text(st, 3, action);
		csod_db_bind_text(st, 4, object);
		csod_db_bind_text(st, 5, detail);
		csod_db_bind_text(st, 6, prev);
		csod_db_bind_text(st, 7, hash);
		if (csod_db_step(st) == CSOD_DB_ROW) {
			id = csod_db_column_int64(st, 0);
			rc = 0;
		}
		csod_db_release(st);
	}
	if (rc == 0) {
		/* The head, kept apart: deleting the newest rows leaves a chain that
		 * is intact in itself, but no longer ends where the head says. */
		char head[128];
		snprintf(head, sizeof head, "%lld:%s", (long long)id, hash);
		if (csod_db_setting_set(db, "audit_head", head, NULL) < 0)
			rc = -1;
	}
	if (rc == 0 && own && csod_db_exec(db, "COMMIT", NULL) < 0)
		rc = -1;
	else if (rc == 0 && !own)
		csod_db_exec(db, "RELEASE audit", NULL);
	if (rc < 0) {
		/* The reason before the rollback's own message replaces it; and
		 * nothing to undo when SQLite already rolled back (a full disk). */
		csod_log(LOG_ERR, NULL, "audit: cannot record %s %s: %s", action,
		         object ? object : "-", csod_db_errmsg(db));
		if (!!csod_db_in_transaction(db))
			csod_db_exec(db, own ? "ROLLBACK" : "ROLLBACK TO audit; RELEASE audit",
			             NULL);
	}
	return rc;
}

int csod_audit_verify(csod_db *db, long *rows, csod_error *err)
{
	csod_stmt *st = csod_db_prepare(
	    db,
	    "SELECT id, time, actor, action, object, detail, prev_hash, hash FROM audit "
	    "ORDER BY id",
	    err);
	if (!st)
		return -1;
	char prev[65] = GENESIS;
	long n = 0, last_id = 0;
	int rc = 0;
	while (csod_db_step(st) == CSOD_DB_ROW) {
		long id = (long)csod_db_column_int64(st, 0);
		const char *stored_prev = csod_db_text(st, 6);
		const char *stored = csod_db_text(st, 7);
		char hash[65];
		entry_hash(prev, csod_db_column_int64(st, 1), csod_db_text(st, 2),
		           csod_db_text(st, 3), csod_db_text(st, 4), csod_db_text(st, 5), hash);
		if (!stored_prev || strcmp(stored_prev, prev) != 0) {
			rc = csod_fail(err,
			               "audit row %ld does not follow row %ld (a row was deleted "
			               "or reordered)",
			               id, last_id);
			break;
		}
		if (!stored || strcmp(stored, hash) != 0) {
			rc = csod_fail(err, "audit row %ld was altered (hash mismatch)", id);
			break;
		}
		snprintf(prev, sizeof prev, "%s", stored);
		last_id = id;
		n++;
	}
	csod_db_finalize(st);
	if (rows)
		*rows = n;
	char head[128], expected[128];
	snprintf(expected, sizeof expected, "%ld:%s", last_id, prev);
	if (rc == 0 && csod_db_setting_get(db, "audit_head", head, sizeof head) == 0 &&
	    strcmp(head, expected) != 0)
		rc = csod_fail(err,
		               "the audit log ends at row %ld, but its head was row %.*s (rows "
		               "were deleted from the end)",
		               last_id, (int)strcspn(head, ":"), head);
	return rc;
}
