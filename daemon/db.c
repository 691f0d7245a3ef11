#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_schema.h"

int64_t csod_now(void)
{
	return (int64_t)time(NULL);
}

int csod_db_exec(csod_db *db, const char *sql, csod_error *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db->sql, sql, NULL, NULL, &msg) != SQLITE_OK) {
		csod_fail(err, "database: %s", msg ? msg : sqlite3_errmsg(db->sql));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

sqlite3_stmt *csod_db_prepare(csod_db *db, const char *sql, csod_error *err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) != SQLITE_OK) {
		csod_fail(err, "database: %s", sqlite3_errmsg(db->sql));
		return NULL;
	}
	return st;
}

sqlite3_stmt *csod_db_cached(csod_db *db, const char *sql, csod_error *err)
{
	int free_slot = -1;
	for (int i = 0; i < CSOD_DB_CACHED; i++) {
		if (db->cached[i].sql == sql)
			return db->cached[i].st;
		if (!db->cached[i].sql && free_slot < 0)
			free_slot = i;
	}
	sqlite3_stmt *st = NULL;
	if (free_slot < 0) {
		/* A programming error: more call sites than slots. */
		csod_fail(err, "database: the statement cache is full");
		return NULL;
	}
	if (sqlite3_prepare_v3(db->sql, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
	    SQLITE_OK) {
		csod_fail(err, "database: %s", sqlite3_errmsg(db->sql));
		return NULL;
	}
	db->cached[free_slot].sql = sql;
	db->cached[free_slot].st = st;
	return st;
}

void csod_db_release(sqlite3_stmt *st)
{
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

const char *csod_db_text(sqlite3_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st, col);
}

int csod_db_schema_version(csod_db *db)
{
	sqlite3_stmt *st = csod_db_prepare(db, "PRAGMA user_version", NULL);
	int v = -1;
	if (st && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int migrate(csod_db *db, csod_error *err)
{
	int have = csod_db_schema_version(db);
	if (have < 0)
		return csod_fail(err, "database: cannot read the schema version");
	if (have > csod_schema_latest())
		return csod_fail(err, "database schema version %d is newer than this csod (%d)",
		                 have, csod_schema_latest());
	for (int v = have + 1; v <= csod_schema_latest(); v++) {
		char pragma[64];
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v);
		if (csod_db_exec(db, "BEGIN IMMEDIATE", err) < 0)
			return -1;
		if (csod_db_exec(db, csod_schema_migration(v), err) < 0 ||
		    csod_db_exec(db, pragma, err) < 0) {
			csod_db_rollback(db);
			return -1;
		}
		if (csod_db_exec(db, "COMMIT", err) < 0)
			return -1;
	}
	return 0;
}

csod_db *csod_db_open(const char *path, int readonly, csod_error *err)
{
	csod_db *db = calloc(1, sizeof *db);
	if (!db) {
		csod_fail(err, "out of memory");
		return NULL;
	}
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &db->sql, flags | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		csod_fail(err, "cannot open database %s: %s", path,
		          db->sql ? sqlite3_errmsg(db->sql) : "out of memory");
		csod_db_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db->sql, 5000);
	if (!readonly &&
	    (csod_db_exec(db, "PRAGMA journal_mode=WAL", err) < 0 ||
	     /* WAL with NORMAL survives any crash of the process (kill -9 included);
	      * only a power cut can lose the last commits, and the files on disk
	      * are then re-taken from store/incoming. FULL would fsync on every
	      * commit and cap the daemon at ~30 requests/s on this kind of disk. */
	     csod_db_exec(db, "PRAGMA synchronous=NORMAL", err) < 0 ||
	     csod_db_exec(db, "PRAGMA foreign_keys=ON", err) < 0 || migrate(db, err) < 0)) {
		csod_db_close(db);
		return NULL;
	}
	if (readonly && csod_db_schema_version(db) != csod_schema_latest()) {
		csod_fail(err,
		          "database %s has schema %d, expected %d (start csodd once to migrate)",
		          path, csod_db_schema_version(db), csod_schema_latest());
		csod_db_close(db);
		return NULL;
	}
	return db;
}

void csod_db_close(csod_db *db)
{
	if (!db)
		return;
	for (int i = 0; i < CSOD_DB_CACHED; i++)
		sqlite3_finalize(db->cached[i].st);
	sqlite3_close_v2(db->sql);
	free(db);
}

int csod_db_begin(csod_db *db)
{
	return csod_db_exec(db, "BEGIN IMMEDIATE", NULL);
}

int csod_db_commit(csod_db *db)
{
	return csod_db_exec(db, "COMMIT", NULL);
}

void csod_db_rollback(csod_db *db)
{
	/* SQLite may have rolled the transaction back itself (SQLITE_FULL,
	 * SQLITE_IOERR, ... in a COMMIT): a ROLLBACK then fails ("no
	 * transaction is active") and its message would hide the cause. */
	if (!sqlite3_get_autocommit(db->sql))
		sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
}

int csod_db_setting_get(csod_db *db, const char *key, char *out, size_t outlen)
{
	sqlite3_stmt *st = csod_db_prepare(db, "SELECT value FROM settings WHERE key = ?", NULL);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int found = -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(out, outlen, "%s", csod_db_text(st, 0));
		found = 0;
	}
	sqlite3_finalize(st);
	return found;
}

int csod_db_setting_set(csod_db *db, const char *key, const char *value, csod_error *err)
{
	sqlite3_stmt *st = csod_db_prepare(db,
	                                   "INSERT INTO settings(key, value) VALUES(?, ?) "
	                                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	                                   err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st) == SQLITE_DONE
	             ? 0
	             : csod_fail(err, "database: %s", sqlite3_errmsg(db->sql));
	sqlite3_finalize(st);
	return rc;
}
