/* What a database backend provides behind db.h (db_sqlite.c, db_pg.c).
 * Every statement a backend makes starts with struct csod_stmt. */
#ifndef CSOD_DB_BACKEND_H
#define CSOD_DB_BACKEND_H

#include "db.h"

struct csod_stmt {
	csod_db *db;
};

struct csod_db_backend {
	const char *name;
	/* Connects; fails with the reason in err. */
	int (*open)(csod_db *db, const csod_db_location *loc, int readonly, csod_error *err);
	void (*close)(csod_db *db);
	/* Each of these leaves its failure's reason in db->message. */
	int (*exec)(csod_db *db, const char *sql);
	csod_stmt *(*prepare)(csod_db *db, const char *sql, int keep);
	void (*finalize)(csod_stmt *st);
	void (*reset)(csod_stmt *st, int clear_bindings);
	int (*bind_text)(csod_stmt *st, int i, const char *text);
	int (*bind_int64)(csod_stmt *st, int i, int64_t v);
	int (*bind_null)(csod_stmt *st, int i);
	int (*bind_blob)(csod_stmt *st, int i, const void *data, size_t len);
	int (*step)(csod_stmt *st);
	int64_t (*column_int64)(csod_stmt *st, int col);
	const char *(*column_text)(csod_stmt *st, int col);
	const void *(*column_blob)(csod_stmt *st, int col);
	int (*column_bytes)(csod_stmt *st, int col);
	int (*column_is_null)(csod_stmt *st, int col);
	int (*changes)(csod_db *db);
	int (*in_transaction)(csod_db *db);
	const char *begin_sql; /* a write transaction's start */
	int (*schema_version)(csod_db *db);
	/* Runs migration to_version's SQL and records the version, inside the
	 * caller's transaction. */
	int (*migrate_to)(csod_db *db, int to_version, const char *sql);
	int64_t (*data_version)(csod_db *db);
};

extern const csod_db_backend csod_db_sqlite;
extern const csod_db_backend csod_db_postgresql;

#endif
