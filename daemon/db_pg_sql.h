/* The SQL rewrites the PostgreSQL backend needs (db_pg.c): the queries'
 * `?` placeholders and the SQLite DDL of db_schema.c. Separate from the
 * backend so that a unit test checks them without a server. */
#ifndef CSOD_DB_PG_SQL_H
#define CSOD_DB_PG_SQL_H

/* sql with each `?` numbered `$1`, `$2`, ... in order (`?N` becomes `$N`),
 * outside string literals, quoted identifiers and comments. *nparams gets
 * the highest number. NULL when out of memory. */
char *csod_pg_placeholders(const char *sql, int *nparams);

/* A migration's SQLite DDL for PostgreSQL: `INTEGER PRIMARY KEY` becomes
 * an identity column, INTEGER BIGINT, BLOB BYTEA (types are written in
 * capitals in db_schema.c, columns in small letters, so a column named
 * blob stays), and the column `user`, reserved in PostgreSQL, is quoted.
 * NULL when out of memory. */
char *csod_pg_ddl(const char *sql);

#endif
