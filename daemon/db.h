/* The state database behind one small interface, so that the same schema
 * and the same queries run on the embedded SQLite file (state/csod.db, WAL
 * mode; the default and the demo's) and on a shared PostgreSQL server
 * (cluster mode, docs/DESIGN.md "Cluster"). Queries are written once in the
 * SQL both understand, with `?` placeholders; a backend translates what it
 * must (db_pg.c: `?` to `$n`, the DDL's types). Schema versioned with
 * migrations from version 1 on (db_schema.c). Only the daemon writes
 * requests; csodctl opens it too (read-only for listings). */
#ifndef CSOD_DB_H
#define CSOD_DB_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

#define CSOD_DB_CACHED 32

/* What csod_db_step returns besides a failure (-1). */
#define CSOD_DB_ROW  100
#define CSOD_DB_DONE 101

typedef struct csod_stmt csod_stmt;
typedef struct csod_db_backend csod_db_backend;

typedef struct csod_db {
	const csod_db_backend *backend;
	void *conn;        /* the backend's connection */
	char message[512]; /* the last failure's reason, for csod_db_errmsg */
	int changes;       /* rows the last INSERT/UPDATE/DELETE touched */
	/* Prepared statements kept for the hot paths (csod_db_cached). */
	struct {
		const char *sql;
		csod_stmt *st;
	} cached[CSOD_DB_CACHED];
} csod_db;

/* Where the database is: the SQLite file, or a PostgreSQL conninfo. */
typedef struct csod_db_location {
	const char *backend;  /* "sqlite" (NULL too) or "postgresql" */
	const char *path;     /* sqlite: the file */
	const char *conninfo; /* postgresql: libpq's connection string */
} csod_db_location;

/* Opens (creating and migrating as needed) the SQLite database at path. */
csod_db *csod_db_open(const char *path, int readonly, csod_error *err);
/* Opens the database where loc says; migrates unless readonly. */
csod_db *csod_db_open_at(const csod_db_location *loc, int readonly, csod_error *err);
void csod_db_close(csod_db *db);
int csod_db_schema_version(csod_db *db);
int csod_db_is_postgresql(const csod_db *db);

/* A write transaction; on SQLite it takes the write lock at once (BEGIN
 * IMMEDIATE), so that two writers queue instead of failing mid-way. */
int csod_db_begin(csod_db *db);
int csod_db_commit(csod_db *db);
void csod_db_rollback(csod_db *db);
int csod_db_in_transaction(csod_db *db);

/* Runs statements with no result rows; for schema-free one-offs. */
int csod_db_exec(csod_db *db, const char *sql, csod_error *err);

/* Prepares sql or fails with the backend's reason. */
csod_stmt *csod_db_prepare(csod_db *db, const char *sql, csod_error *err);

/* A prepared statement kept for reuse: preparing costs more than running
 * the small queries of a request's life. sql must be a string literal (it
 * is the cache's key); the statement must not be in use already (no
 * nesting of the same query). Give it back with csod_db_release, never
 * csod_db_finalize. */
csod_stmt *csod_db_cached(csod_db *db, const char *sql, csod_error *err);
void csod_db_release(csod_stmt *st);
void csod_db_finalize(csod_stmt *st);
/* Back to before the first step, bindings kept. */
void csod_db_reset(csod_stmt *st);

/* Parameters count from 1; text and blobs are copied. */
int csod_db_bind_text(csod_stmt *st, int i, const char *text);
int csod_db_bind_int64(csod_stmt *st, int i, int64_t v);
int csod_db_bind_int(csod_stmt *st, int i, int v);
int csod_db_bind_null(csod_stmt *st, int i);
int csod_db_bind_blob(csod_stmt *st, int i, const void *data, size_t len);

/* CSOD_DB_ROW, CSOD_DB_DONE or -1 (the reason in csod_db_errmsg). */
int csod_db_step(csod_stmt *st);

/* Columns count from 0 and stay valid until the next step or reset. */
int64_t csod_db_column_int64(csod_stmt *st, int col);
int csod_db_column_int(csod_stmt *st, int col);
const char *csod_db_text(csod_stmt *st, int col); /* NULL for NULL */
const void *csod_db_column_blob(csod_stmt *st, int col);
int csod_db_column_bytes(csod_stmt *st, int col);
int csod_db_column_is_null(csod_stmt *st, int col);

const char *csod_db_errmsg(csod_db *db);
/* Rows the last INSERT, UPDATE or DELETE changed. */
int csod_db_changes(csod_db *db);

/* A number that changes when another connection commits (the daemon's
 * loop polls it to see csodctl's changes); -1 when unknown. */
int64_t csod_db_data_version(csod_db *db);

/* Key-value settings that admins change at run time (auto-approve toggles). */
int csod_db_setting_get(csod_db *db, const char *key, char *out, size_t outlen);
int csod_db_setting_set(csod_db *db, const char *key, const char *value, csod_error *err);

int64_t csod_now(void); /* seconds since the epoch */

#endif
