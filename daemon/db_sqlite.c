/* The SQLite backend of db.h: the embedded default, one file in WAL mode. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_backend.h"

typedef struct sqlite_stmt {
	csod_stmt base;
	sqlite3_stmt *st;
} sqlite_stmt;

static sqlite3 *conn(csod_db *db)
{
	return db->conn;
}

static int note(csod_db *db)
{
	snprintf(db->message, sizeof db->message, "%s", sqlite3_errmsg(conn(db)));
	return -1;
}

static sqlite3_stmt *raw(csod_stmt *st)
{
	return ((sqlite_stmt *)st)->st;
}

static int sq_exec(csod_db *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(conn(db), sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(db->message, sizeof db->message, "%s",
		         msg ? msg : sqlite3_errmsg(conn(db)));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int sq_open(csod_db *db, const csod_db_location *loc, int readonly, csod_error *err)
{
	sqlite3 *s = NULL;
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(loc->path, &s, flags | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		csod_fail(err, "cannot open database %s: %s", loc->path,
		          s ? sqlite3_errmsg(s) : "out of memory");
		sqlite3_close_v2(s);
		return -1;
	}
	db->conn = s;
	sqlite3_busy_timeout(s, 5000);
	if (!readonly && (sq_exec(db, "PRAGMA journal_mode=WAL") < 0 ||
	                  /* WAL with NORMAL survives any crash of the process (kill -9 included);
	                   * only a power cut can lose the last commits, and the files on disk
	                   * are then re-taken from store/incoming. FULL would fsync on every
	                   * commit and cap the daemon at ~30 requests/s on this kind of disk. */
	                  sq_exec(db, "PRAGMA synchronous=NORMAL") < 0 ||
	                  sq_exec(db, "PRAGMA foreign_keys=ON") < 0))
		return csod_fail(err, "database: %s", db->message);
	return 0;
}

static void sq_close(csod_db *db)
{
	sqlite3_close_v2(conn(db));
	db->conn = NULL;
}

static csod_stmt *sq_prepare(csod_db *db, const char *sql, int keep)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(conn(db), sql, -1, keep ? SQLITE_PREPARE_PERSISTENT : 0, &st,
	                       NULL) != SQLITE_OK) {
		note(db);
		return NULL;
	}
	sqlite_stmt *s = calloc(1, sizeof *s);
	if (!s) {
		sqlite3_finalize(st);
		snprintf(db->message, sizeof db->message, "out of memory");
		return NULL;
	}
	s->base.db = db;
	s->st = st;
	return &s->base;
}

static void sq_finalize(csod_stmt *st)
{
	sqlite3_finalize(raw(st));
	free(st);
}

static void sq_reset(csod_stmt *st, int clear_bindings)
{
	sqlite3_reset(raw(st));
	if (clear_bindings)
		sqlite3_clear_bindings(raw(st));
}

static int bound(csod_stmt *st, int rc)
{
	return rc == SQLITE_OK ? 0 : note(st->db);
}

static int sq_bind_text(csod_stmt *st, int i, const char *text)
{
	return bound(st, sqlite3_bind_text(raw(st), i, text, -1, SQLITE_TRANSIENT));
}

static int sq_bind_int64(csod_stmt *st, int i, int64_t v)
{
	return bound(st, sqlite3_bind_int64(raw(st), i, v));
}

static int sq_bind_null(csod_stmt *st, int i)
{
	return bound(st, sqlite3_bind_null(raw(st), i));
}

static int sq_bind_blob(csod_stmt *st, int i, const void *data, size_t len)
{
	return bound(st, sqlite3_bind_blob64(raw(st), i, data, len, SQLITE_TRANSIENT));
}

static int sq_step(csod_stmt *st)
{
	int rc = sqlite3_step(raw(st));
	if (rc == SQLITE_ROW)
		return CSOD_DB_ROW;
	if (rc == SQLITE_DONE)
		return CSOD_DB_DONE;
	return note(st->db);
}

static int64_t sq_column_int64(csod_stmt *st, int col)
{
	return sqlite3_column_int64(raw(st), col);
}

static const char *sq_column_text(csod_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(raw(st), col);
}

static const void *sq_column_blob(csod_stmt *st, int col)
{
	return sqlite3_column_blob(raw(st), col);
}

static int sq_column_bytes(csod_stmt *st, int col)
{
	return sqlite3_column_bytes(raw(st), col);
}

static int sq_column_is_null(csod_stmt *st, int col)
{
	return sqlite3_column_type(raw(st), col) == SQLITE_NULL;
}

static int sq_changes(csod_db *db)
{
	return sqlite3_changes(conn(db));
}

static int sq_in_transaction(csod_db *db)
{
	return !sqlite3_get_autocommit(conn(db));
}

static int64_t pragma(csod_db *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	if (sqlite3_prepare_v2(conn(db), sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int sq_schema_version(csod_db *db)
{
	return (int)pragma(db, "PRAGMA user_version");
}

static int sq_migrate_to(csod_db *db, int to_version, const char *sql)
{
	char version[64];
	snprintf(version, sizeof version, "PRAGMA user_version = %d", to_version);
	return sq_exec(db, sql) < 0 || sq_exec(db, version) < 0 ? -1 : 0;
}

static int64_t sq_data_version(csod_db *db)
{
	return pragma(db, "PRAGMA data_version");
}

const csod_db_backend csod_db_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .prepare = sq_prepare,
    .finalize = sq_finalize,
    .reset = sq_reset,
    .bind_text = sq_bind_text,
    .bind_int64 = sq_bind_int64,
    .bind_null = sq_bind_null,
    .bind_blob = sq_bind_blob,
    .step = sq_step,
    .column_int64 = sq_column_int64,
    .column_text = sq_column_text,
    .column_blob = sq_column_blob,
    .column_bytes = sq_column_bytes,
    .column_is_null = sq_column_is_null,
    .changes = sq_changes,
    .in_transaction = sq_in_transaction,
    .begin_sql = "BEGIN IMMEDIATE",
    .schema_version = sq_schema_version,
    .migrate_to = sq_migrate_to,
    .data_version = sq_data_version,
};
