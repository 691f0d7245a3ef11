/* The state database (state/csod.db): SQLite in WAL mode, schema versioned
 * with migrations from version 1 on. Only the daemon writes requests; csodctl
 * opens it too (read-only for listings). */
#ifndef CSOD_DB_H
#define CSOD_DB_H

#include <sqlite3.h>
#include <stdint.h>

#include "../lib/error.h"

#define CSOD_DB_CACHED 32

typedef struct csod_db {
	sqlite3 *sql;
	/* Prepared statements kept for the hot paths (csod_db_cached). */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cached[CSOD_DB_CACHED];
} csod_db;

/* Opens (creating and migrating as needed) the database at path. */
csod_db *csod_db_open(const char *path, int readonly, csod_error *err);
void csod_db_close(csod_db *db);
int csod_db_schema_version(csod_db *db);

int csod_db_begin(csod_db *db);
int csod_db_commit(csod_db *db);
void csod_db_rollback(csod_db *db);

/* Runs a statement with no result rows; for schema-free one-offs. */
int csod_db_exec(csod_db *db, const char *sql, csod_error *err);

/* Prepares sql or fails with SQLite's reason. */
sqlite3_stmt *csod_db_prepare(csod_db *db, const char *sql, csod_error *err);

/* A prepared statement kept for reuse: preparing costs more than running
 * the small queries of a request's life. sql must be a string literal (it
 * is the cache's key); the statement must not be in use already (no
 * nesting of the same query). Give it back with csod_db_release, never
 * sqlite3_finalize. */
sqlite3_stmt *csod_db_cached(csod_db *db, const char *sql, csod_error *err);
void csod_db_release(sqlite3_stmt *st);

/* Helper for reading text columns that may be NULL. */
const char *csod_db_text(sqlite3_stmt *st, int col);

/* Key-value settings that admins change at run time (auto-approve toggles). */
int csod_db_setting_get(csod_db *db, const char *key, char *out, size_t outlen);
int csod_db_setting_set(csod_db *db, const char *key, const char *value, csod_error *err);

int64_t csod_now(void); /* seconds since the epoch */

#endif
