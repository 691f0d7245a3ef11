/* The backend-independent half of db.h: the statement cache, migrations,
 * settings and the calls that dispatch to the backend. */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_backend.h"
#include "db_schema.h"

int64_t csod_now(void)
{
	return (int64_t)time(NULL);
}

static int failed(csod_db *db, csod_error *err)
{
	return csod_fail(err, "database: %s", db->message[0] ? db->message : "unknown failure");
}

int csod_db_exec(csod_db *db, const char *sql, csod_error *err)
{
	if (db->backend->exec(db, sql) < 0)
		return failed(db, err);
	return 0;
}

csod_stmt *csod_db_prepare(csod_db *db, const char *sql, csod_error *err)
{
	csod_stmt *st = db->backend->prepare(db, sql, 0);
	if (!st)
		failed(db, err);
	return st;
}

csod_stmt *csod_db_cached(csod_db *db, const char *sql, csod_error *err)
{
	int free_slot = -1;
	for (int i = 0; i < CSOD_DB_CACHED; i++) {
		if (db->cached[i].sql == sql)
			return db->cached[i].st;
		if (!db->cached[i].sql && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0) {
		/* A programming error: more call sites than slots. */
		csod_fail(err, "database: the statement cache is full");
		return NULL;
	}
	csod_stmt *st = db->backend->prepare(db, sql, 1);
	if (!st) {
		failed(db, err);
		return NULL;
	}
	db->cached[free_slot].sql = sql;
	db->cached[free_slot].st = st;
	return st;
}

void csod_db_release(csod_stmt *st)
{
	if (st)
		st->db->backend->reset(st, 1);
}

void csod_db_finalize(csod_stmt *st)
{
	if (st)
		st->db->backend->finalize(st);
}

void csod_db_reset(csod_stmt *st)
{
	if (st)
		st->db->backend->reset(st, 0);
}

int csod_db_bind_text(csod_stmt *st, int i, const char *text)
{
	return text ? st->db->backend->bind_text(st, i, text) : st->db->backend->bind_null(st, i);
}

int csod_db_bind_int64(csod_stmt *st, int i, int64_t v)
{
	return st->db->backend->bind_int64(st, i, v);
}

int csod_db_bind_int(csod_stmt *st, int i, int v)
{
	return st->db->backend->bind_int64(st, i, v);
}

int csod_db_bind_null(csod_stmt *st, int i)
{
	return st->db->backend->bind_null(st, i);
}

int csod_db_bind_blob(csod_stmt *st, int i, const void *data, size_t len)
{
	return st->db->backend->bind_blob(st, i, data, len);
}

int csod_db_step(csod_stmt *st)
{
	return st->db->backend->step(st);
}

int64_t csod_db_column_int64(csod_stmt *st, int col)
{
	return st->db->backend->column_int64(st, col);
}

int csod_db_column_int(csod_stmt *st, int col)
{
	return (int)st->db->backend->column_int64(st, col);
}

const char *csod_db_text(csod_stmt *st, int col)
{
	return st->db->backend->column_text(st, col);
}

const void *csod_db_column_blob(csod_stmt *st, int col)
{
	return st->db->backend->column_blob(st, col);
}

int csod_db_column_bytes(csod_stmt *st, int col)
{
	return st->db->backend->column_bytes(st, col);
}

int csod_db_column_is_null(csod_stmt *st, int col)
{
	return st->db->backend->column_is_null(st, col);
}

const char *csod_db_errmsg(csod_db *db)
{
	return db->message[0] ? db->message : "unknown failure";
}

int csod_db_changes(csod_db *db)
{
	return db->backend->changes(db);
}

int64_t csod_db_data_version(csod_db *db)
{
	return db->backend->data_version(db);
}

int csod_db_is_postgresql(const csod_db *db)
{
	return db->backend == &csod_db_postgresql;
}

int csod_db_schema_version(csod_db *db)
{
	return db->backend->schema_version(db);
}

int csod_db_in_transaction(csod_db *db)
{
	return db->backend->in_transaction(db);
}

static int migrate(csod_db *db, csod_error *err)
{
	for (int v = 1; v <= csod_schema_latest(); v++) {
		if (csod_db_exec(db, db->backend->begin_sql, err) < 0)
			return -1;
		/* Read inside the transaction: another node may have migrated
		 * while this one waited for the lock. */
		int have = csod_db_schema_version(db);
		if (have < 0 || have > csod_schema_latest()) {
			csod_db_rollback(db);
			if (have < 0)
				return csod_fail(err, "database: cannot read the schema version");
			return csod_fail(err,
			                 "database schema version %d is newer than this csod (%d)",
			                 have, csod_schema_latest());
		}
		if (have >= v) {
			csod_db_rollback(db);
			continue;
		}
		if (db->backend->migrate_to(db, v, csod_schema_migration(v)) < 0) {
			failed(db, err);
			csod_db_rollback(db);
			return -1;
		}
		if (csod_db_exec(db, "COMMIT", err) < 0)
			return -1;
	}
	return 0;
}

csod_db *csod_db_open_at(const csod_db_location *loc, int readonly, csod_error *err)
{
	const csod_db_backend *backend = &csod_db_sqlite;
	if (loc->backend && strcmp(loc->backend, "postgresql") == 0)
		backend = &csod_db_postgresql;
	else if (loc->backend && strcmp(loc->backend, "sqlite") != 0) {
		csod_fail(err, "database: unknown backend \"%s\"", loc->backend);
		return NULL;
	}
	csod_db *db = calloc(1, sizeof *db);
	if (!db) {
		csod_fail(err, "out of memory");
		return NULL;
	}
	db->backend = backend;
	if (backend->open(db, loc, readonly, err) < 0) {
		csod_db_close(db);
		return NULL;
	}
	if (!readonly && migrate(db, err) < 0) {
		csod_db_close(db);
		return NULL;
	}
	if (readonly && csod_db_schema_version(db) != csod_schema_latest()) {
		int have = csod_db_schema_version(db);
		csod_fail(err,
		          "database %s has schema %d, expected %d (start csodd once to migrate)",
		          backend == &csod_db_postgresql ? "on the PostgreSQL server"
		          : loc->path                    ? loc->path
		                                         : "",
		          have, csod_schema_latest());
		csod_db_close(db);
		return NULL;
	}
	return db;
}

csod_db *csod_db_open(const char *path, int readonly, csod_error *err)
{
	csod_db_location loc = {.backend = "sqlite", .path = path};
	return csod_db_open_at(&loc, readonly, err);
}

void csod_db_close(csod_db *db)
{
	if (!db)
		return;
	for (int i = 0; i < CSOD_DB_CACHED; i++)
		if (db->cached[i].st)
			db->backend->finalize(db->cached[i].st);
	if (db->conn)
		db->backend->close(db);
	free(db);
}

int csod_db_begin(csod_db *db)
{
	return csod_db_exec(db, db->backend->begin_sql, NULL);
}

int csod_db_commit(csod_db *db)
{
	return csod_db_exec(db, "COMMIT", NULL);
}

void csod_db_rollback(csod_db *db)
{
	/* The backend may have rolled the transaction back itself (a full
	 * disk in a COMMIT): a ROLLBACK then fails ("no transaction is
	 * active") and its message would hide the cause. */
	if (csod_db_in_transaction(db)) {
		char keep[sizeof db->message];
		memcpy(keep, db->message, sizeof keep);
		db->backend->exec(db, "ROLLBACK");
		memcpy(db->message, keep, sizeof keep);
	}
}

int csod_db_setting_get(csod_db *db, const char *key, char *out, size_t outlen)
{
	csod_stmt *st = csod_db_prepare(db, "SELECT value FROM settings WHERE key = ?", NULL);
	if (!st)
		return -1;
	csod_db_bind_text(st, 1, key);
	int found = -1;
	if (csod_db_step(st) == CSOD_DB_ROW) {
		snprintf(out, outlen, "%s", csod_db_text(st, 0));
		found = 0;
	}
	csod_db_finalize(st);
	return found;
}

int csod_db_setting_set(csod_db *db, const char *key, const char *value, csod_error *err)
{
	csod_stmt *st = csod_db_prepare(db,
	                                "INSERT INTO settings(key, value) VALUES(?, ?) "
	                                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	                                err);
	if (!st)
		return -1;
	csod_db_bind_text(st, 1, key);
	csod_db_bind_text(st, 2, value);
	int rc = csod_db_step(st) == CSOD_DB_DONE
	             ? 0
	             : csod_fail(err, "database: %s", csod_db_errmsg(db));
	csod_db_finalize(st);
	return rc;
}
