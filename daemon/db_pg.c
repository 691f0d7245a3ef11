/* The PostgreSQL backend of db.h (cluster mode: several csodd nodes share
 * one database). Queries arrive with `?` placeholders and are sent with
 * `$n` ones (db_pg_sql.c); parameters go as text, blobs as binary bytea,
 * and results come back as text (bytea decoded from its hex form). A
 * statement runs whole at its first step; later steps walk its rows. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_backend.h"
#include "db_pg_sql.h"
#include "db_schema.h"

#define BYTEA_OID 17

/* Every write transaction holds this advisory lock (any number, fixed for
 * csod) until it ends: writers queue one after the other across all nodes,
 * as SQLite's BEGIN IMMEDIATE makes them do, so that the daemon's
 * read-then-write transactions keep their meaning, and a migration
 * re-reads the schema version after any other node's. */
#define WRITE_LOCK "7305316180245616387"

/* The tables whose changes by another connection the daemon's loop looks
 * for (developers and mail added by csodctl, certificates collected by
 * another node); see pg_data_version. */
static const char *const watched[] = {"developers", "certificates", "mail_queue", "settings",
                                      "keys"};

typedef struct pg_link {
	PGconn *c;
	int64_t others;      /* notifications from other connections seen so far */
	unsigned names;      /* for the prepared statements' names */
	unsigned generation; /* counts reconnections: prepared statements die with a session */
} pg_link;

typedef struct pg_stmt {
	csod_stmt base;
	char *sql; /* with $n placeholders */
	char name[24];
	unsigned generation; /* the session name was prepared in */
	int nparams;
	char **values;
	int *lengths, *formats;
	PGresult *res;
	int row;
	/* The current row's decoded bytea columns. */
	unsigned char **blobs;
	size_t *blob_len;
	int blob_row;
} pg_stmt;

static pg_link *link_of(csod_db *db)
{
	return db->conn;
}

static PGconn *conn(csod_db *db)
{
	return link_of(db)->c;
}

static pg_stmt *pgs(csod_stmt *st)
{
	return (pg_stmt *)st;
}

static int note(csod_db *db, const char *msg)
{
	snprintf(db->message, sizeof db->message, "%s", msg && *msg ? msg : "unknown failure");
	/* libpq's messages end in a newline */
	size_t n = strlen(db->message);
	if (n && db->message[n - 1] == '\n')
		db->message[n - 1] = '\0';
	return -1;
}

/* The result's status as 0 or -1 (the reason in db->message); frees r. */
static int result_ok(csod_db *db, PGresult *r)
{
	ExecStatusType s = PQresultStatus(r);
	int rc = 0;
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		rc = note(db, r ? PQresultErrorMessage(r) : PQerrorMessage(conn(db)));
	PQclear(r);
	return rc;
}

static int session_setup(csod_db *db);

/* A lost connection (the server restarted, a network cut) is made again
 * before the next statement, so that a long-running csodd carries on; the
 * statement that met the loss failed, and its transaction is gone. */
static int connected(csod_db *db)
{
	pg_link *l = link_of(db);
	if (PQstatus(l->c) == CONNECTION_OK)
		return 0;
	PQreset(l->c);
	if (PQstatus(l->c) != CONNECTION_OK)
		return note(db, PQerrorMessage(l->c));
	l->generation++;
	/* Notifications sent meanwhile are lost: count a change. */
	l->others++;
	return session_setup(db);
}

static int prepare_named(struct pg_stmt *s);

/* Runs the statement s (or sql, without parameters) once. */
static PGresult *run_once(csod_db *db, struct pg_stmt *s, const char *sql)
{
	if (connected(db) < 0)
		return NULL;
	if (!s)
		return PQexec(conn(db), sql);
	if (s->name[0] && s->generation != link_of(db)->generation && prepare_named(s) < 0)
		return NULL;
	const char *const *values = (const char *const *)s->values;
	if (s->name[0])
		return PQexecPrepared(conn(db), s->name, s->nparams, values, s->lengths, s->formats,
		                      0);
	return PQexecParams(conn(db), s->sql, s->nparams, NULL, values, s->lengths, s->formats, 0);
}

/* A statement sent outside a transaction on a connection found dead is
 * sent again on a new one: the server never ran it. In a transaction it
 * fails, as the transaction is lost. */
static PGresult *run(csod_db *db, struct pg_stmt *s, const char *sql)
{
	int idle = PQtransactionStatus(conn(db)) == PQTRANS_IDLE;
	PGresult *r = run_once(db, s, sql);
	if (idle && PQstatus(conn(db)) == CONNECTION_BAD) {
		PQclear(r);
		r = run_once(db, s, sql);
	}
	return r;
}

static int pg_exec(csod_db *db, const char *sql)
{
	PGresult *r = run(db, NULL, sql);
	/* COMMIT of a transaction that failed earlier answers ROLLBACK: the
	 * caller must hear that nothing was written. */
	if (PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "ROLLBACK") == 0 &&
	    strncmp(sql, "ROLLBACK", 8) != 0) {
		PQclear(r);
		return note(db, "the transaction failed and was rolled back");
	}
	return result_ok(db, r);
}

static int pg_open(csod_db *db, const csod_db_location *loc, int readonly, csod_error *err)
{
	(void)readonly;
	pg_link *l = calloc(1, sizeof *l);
	if (!l)
		return csod_fail(err, "out of memory");
	db->conn = l;
	l->c = PQconnectdb(loc->conninfo ? loc->conninfo : "");
	/* Not the conninfo in the message: it may hold a password. */
	if (PQstatus(l->c) != CONNECTION_OK) {
		note(db, PQerrorMessage(l->c));
		return csod_fail(err, "cannot connect to the database: %s", db->message);
	}
	/* Quiet NOTICEs (CREATE ... IF NOT EXISTS) instead of stderr lines. */
	PQsetNoticeProcessor(l->c, NULL, NULL);
	if (session_setup(db) < 0)
		return csod_fail(err, "database: %s", db->message);
	return 0;
}

/* lock_timeout: a writer waits for the write lock (an advisory lock) or a
 * row at most as long as SQLite's busy timeout (db_sqlite.c), then fails
 * with a reason, instead of hanging behind a stuck csodctl or node. */
static int session_setup(csod_db *db)
{
	return pg_exec(db, "SET client_min_messages = warning; SET TIME ZONE 'UTC'; "
	                   "SET lock_timeout = '5s'; LISTEN csod_changed");
}

static void pg_close(csod_db *db)
{
	PQfinish(conn(db));
	free(link_of(db));
	db->conn = NULL;
}

static void clear_blobs(pg_stmt *s)
{
	for (int i = 0; s->blobs && s->res && i < PQnfields(s->res); i++) {
		PQfreemem(s->blobs[i]);
		s->blobs[i] = NULL;
	}
	free(s->blobs);
	free(s->blob_len);
	s->blobs = NULL;
	s->blob_len = NULL;
}

static void clear_result(pg_stmt *s)
{
	clear_blobs(s);
	PQclear(s->res);
	s->res = NULL;
	s->row = -1;
	s->blob_row = -1;
}

static void clear_bindings(pg_stmt *s)
{
	for (int i = 0; i < s->nparams; i++) {
		free(s->values[i]);
		s->values[i] = NULL;
		s->lengths[i] = 0;
		s->formats[i] = 0;
	}
}

static void pg_finalize(csod_stmt *st)
{
	pg_stmt *s = pgs(st);
	clear_result(s);
	clear_bindings(s);
	if (s->name[0] && st->db->conn) {
		char sql[64];
		snprintf(sql, sizeof sql, "DEALLOCATE %s", s->name);
		PQclear(PQexec(conn(st->db), sql));
	}
	free(s->sql);
	free(s->values);
	free(s->lengths);
	free(s->formats);
	free(s);
}

/* The server-side statement of a cached one, in this session. */
static int prepare_named(pg_stmt *s)
{
	csod_db *db = s->base.db;
	if (connected(db) < 0)
		return -1;
	s->generation = link_of(db)->generation;
	return result_ok(db, PQprepare(conn(db), s->name, s->sql, s->nparams, NULL));
}

static csod_stmt *pg_prepare(csod_db *db, const char *sql, int keep)
{
	pg_stmt *s = calloc(1, sizeof *s);
	if (!s) {
		note(db, "out of memory");
		return NULL;
	}
	s->base.db = db;
	s->row = s->blob_row = -1;
	s->sql = csod_pg_placeholders(sql, &s->nparams);
	int n = s->nparams ? s->nparams : 1;
	s->values = calloc((size_t)n, sizeof *s->values);
	s->lengths = calloc((size_t)n, sizeof *s->lengths);
	s->formats = calloc((size_t)n, sizeof *s->formats);
	if (!s->sql || !s->values || !s->lengths || !s->formats) {
		note(db, "out of memory");
		pg_finalize(&s->base);
		return NULL;
	}
	if (keep) {
		snprintf(s->name, sizeof s->name, "csod_%u", ++link_of(db)->names);
		if (prepare_named(s) < 0) {
			s->name[0] = '\0';
			pg_finalize(&s->base);
			return NULL;
		}
	}
	return &s->base;
}

static void pg_reset(csod_stmt *st, int clear)
{
	clear_result(pgs(st));
	if (clear)
		clear_bindings(pgs(st));
}

static int bind_bytes(csod_stmt *st, int i, const void *data, size_t len, int binary)
{
	pg_stmt *s = pgs(st);
	if (i < 1 || i > s->nparams)
		return note(st->db, "bind parameter out of range");
	char *copy = malloc(len + 1);
	if (!copy)
		return note(st->db, "out of memory");
	if (len)
		memcpy(copy, data, len);
	copy[len] = '\0';
	clear_result(s);
	free(s->values[i - 1]);
	s->values[i - 1] = copy;
	s->lengths[i - 1] = (int)len;
	s->formats[i - 1] = binary;
	return 0;
}

static int pg_bind_text(csod_stmt *st, int i, const char *text)
{
	return bind_bytes(st, i, text, strlen(text), 0);
}

static int pg_bind_int64(csod_stmt *st, int i, int64_t v)
{
	char text[32];
	return bind_bytes(st, i, text, (size_t)snprintf(text, sizeof text, "%lld", (long long)v),
	                  0);
}

static int pg_bind_null(csod_stmt *st, int i)
{
	pg_stmt *s = pgs(st);
	if (i < 1 || i > s->nparams)
		return note(st->db, "bind parameter out of range");
	clear_result(s);
	free(s->values[i - 1]);
	s->values[i - 1] = NULL;
	return 0;
}

static int pg_bind_blob(csod_stmt *st, int i, const void *data, size_t len)
{
	return bind_bytes(st, i, data, len, 1);
}

static void count_changes(csod_db *db, PGresult *r)
{
	const char *status = PQcmdStatus(r);
	if (strncmp(status, "INSERT", 6) == 0 || strncmp(status, "UPDATE", 6) == 0 ||
	    strncmp(status, "DELETE", 6) == 0)
		db->changes = atoi(PQcmdTuples(r));
}

static int pg_step(csod_stmt *st)
{
	pg_stmt *s = pgs(st);
	csod_db *db = st->db;
	if (!s->res) {
		PGresult *r = run(db, s, NULL);
		ExecStatusType status = PQresultStatus(r);
		if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
			note(db, r ? PQresultErrorMessage(r) : PQerrorMessage(conn(db)));
			PQclear(r);
			return -1;
		}
		count_changes(db, r);
		s->res = r;
		s->row = -1;
	}
	if (s->row + 1 < PQntuples(s->res)) {
		s->row++;
		return CSOD_DB_ROW;
	}
	s->row = PQntuples(s->res);
	return CSOD_DB_DONE;
}

static int on_row(pg_stmt *s, int col)
{
	return s->res && s->row >= 0 && s->row < PQntuples(s->res) && col >= 0 &&
	       col < PQnfields(s->res);
}

static int pg_column_is_null(csod_stmt *st, int col)
{
	pg_stmt *s = pgs(st);
	return !on_row(s, col) || PQgetisnull(s->res, s->row, col);
}

static const char *pg_column_text(csod_stmt *st, int col)
{
	pg_stmt *s = pgs(st);
	return pg_column_is_null(st, col) ? NULL : PQgetvalue(s->res, s->row, col);
}

static int64_t pg_column_int64(csod_stmt *st, int col)
{
	const char *v = pg_column_text(st, col);
	if (!v)
		return 0;
	/* booleans come as t and f */
	if (strcmp(v, "t") == 0)
		return 1;
	if (strcmp(v, "f") == 0)
		return 0;
	return strtoll(v, NULL, 10);
}

/* The bytea column col of the current row, decoded once per row. */
static int decode_bytea(pg_stmt *s, int col)
{
	int cols = PQnfields(s->res);
	if (!s->blobs) {
		s->blobs = calloc((size_t)cols, sizeof *s->blobs);
		s->blob_len = calloc((size_t)cols, sizeof *s->blob_len);
		if (!s->blobs || !s->blob_len)
			return note(s->base.db, "out of memory");
	}
	if (s->blob_row != s->row) {
		for (int i = 0; i < cols; i++) {
			PQfreemem(s->blobs[i]);
			s->blobs[i] = NULL;
		}
		s->blob_row = s->row;
	}
	if (!s->blobs[col]) {
		const unsigned char *hex = (const unsigned char *)PQgetvalue(s->res, s->row, col);
		s->blobs[col] = PQunescapeBytea(hex, &s->blob_len[col]);
		if (!s->blobs[col])
			return note(s->base.db, "out of memory");
	}
	return 0;
}

static const void *pg_column_blob(csod_stmt *st, int col)
{
	pg_stmt *s = pgs(st);
	if (pg_column_is_null(st, col))
		return NULL;
	if (PQftype(s->res, col) != BYTEA_OID)
		return PQgetvalue(s->res, s->row, col);
	return decode_bytea(s, col) < 0 ? NULL : s->blobs[col];
}

static int pg_column_bytes(csod_stmt *st, int col)
{
	pg_stmt *s = pgs(st);
	if (pg_column_is_null(st, col))
		return 0;
	if (PQftype(s->res, col) != BYTEA_OID)
		return PQgetlength(s->res, s->row, col);
	return decode_bytea(s, col) < 0 ? 0 : (int)s->blob_len[col];
}

static int pg_changes(csod_db *db)
{
	return db->changes;
}

static int pg_in_transaction(csod_db *db)
{
	PGTransactionStatusType t = PQtransactionStatus(conn(db));
	return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static int64_t single_int(csod_db *db, const char *sql)
{
	PGresult *r = PQexec(conn(db), sql);
	int64_t v = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else if (PQresultStatus(r) == PGRES_TUPLES_OK)
		v = 0;
	else
		note(db, PQresultErrorMessage(r));
	PQclear(r);
	return v;
}

/* 0 before the first migration; the table is made by it (pg_migrate_to). */
static int pg_schema_version(csod_db *db)
{
	int64_t exists = single_int(db, "SELECT count(*) FROM pg_catalog.pg_tables WHERE "
	                                "schemaname = current_schema() AND "
	                                "tablename = 'schema_version'");
	if (exists <= 0)
		return (int)exists;
	return (int)single_int(db, "SELECT max(version) FROM schema_version");
}

/* Each statement that changes a watched table tells the listeners
 * (pg_data_version); one notification per transaction at most. */
static int install_notify(csod_db *db)
{
	if (pg_exec(db, "CREATE OR REPLACE FUNCTION csod_notify_change() RETURNS trigger "
	                "LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('csod_changed', ''); "
	                "RETURN NULL; END $$") < 0)
		return -1;
	for (size_t i = 0; i < sizeof watched / sizeof watched[0]; i++) {
		char sql[256];
		snprintf(sql, sizeof sql,
		         "CREATE OR REPLACE TRIGGER csod_changed AFTER INSERT OR UPDATE OR DELETE "
		         "ON %s FOR EACH STATEMENT EXECUTE FUNCTION csod_notify_change()",
		         watched[i]);
		if (pg_exec(db, sql) < 0)
			return -1;
	}
	return 0;
}

static int pg_migrate_to(csod_db *db, int to_version, const char *sql)
{
	char *ddl = csod_pg_ddl(sql);
	if (!ddl)
		return note(db, "out of memory");
	int rc = pg_exec(db, ddl);
	free(ddl);
	if (rc < 0)
		return -1;
	char version[160];
	snprintf(version, sizeof version,
	         "CREATE TABLE IF NOT EXISTS schema_version(version BIGINT NOT NULL);"
	         "DELETE FROM schema_version; INSERT INTO schema_version VALUES(%d)",
	         to_version);
	if (pg_exec(db, version) < 0)
		return -1;
	return to_version == csod_schema_latest() ? install_notify(db) : 0;
}

/* Counts the commits of other connections to the watched tables, as
 * SQLite's data_version does for its file: notifications this connection
 * caused itself are left out. */
static int64_t pg_data_version(csod_db *db)
{
	pg_link *l = link_of(db);
	if (!PQconsumeInput(l->c))
		return -1;
	PGnotify *n;
	while ((n = PQnotifies(l->c))) {
		if (n->be_pid != PQbackendPID(l->c))
			l->others++;
		PQfreemem(n);
	}
	return l->others;
}

const csod_db_backend csod_db_postgresql = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .reset = pg_reset,
    .bind_text = pg_bind_text,
    .bind_int64 = pg_bind_int64,
    .bind_null = pg_bind_null,
    .bind_blob = pg_bind_blob,
    .step = pg_step,
    .column_int64 = pg_column_int64,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .column_bytes = pg_column_bytes,
    .column_is_null = pg_column_is_null,
    .changes = pg_changes,
    .in_transaction = pg_in_transaction,
    .begin_sql = "BEGIN; SELECT pg_advisory_xact_lock(" WRITE_LOCK ")",
    .schema_version = pg_schema_version,
    .migrate_to = pg_migrate_to,
    .data_version = pg_data_version,
};
