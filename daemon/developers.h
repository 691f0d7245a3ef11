/* Developers live in the database (the config file seeds them), so adding
 * one needs no restart. Each has an inbox and an outbox folder named after
 * their Unix user. */
#ifndef CSOD_DEVELOPERS_H
#define CSOD_DEVELOPERS_H

#include "config.h"
#include "db.h"
#include "places.h"

typedef struct csod_dev_record {
	char user[65];
	char email[256];
	char name[256];
	char organization[256];
	char department[256]; /* "" when none */
	char digests[128];    /* comma-separated, "" = sha256 */
	char service[32];     /* "" = by extension */
	/* Every place they belong to; places[0] is organization/department,
	 * each request's default. */
	csod_place places[CSOD_MAX_PLACES];
	int n_places;
} csod_dev_record;

/* 0 found, 1 no such (or removed) developer, -1 database error. */
int csod_developer_lookup(csod_db *db, const char *user, csod_dev_record *out);

/* Whether organization and department (a request's, after request.conf)
 * are one of the developer's own places: request.conf picks among them,
 * never another, since the department decides who approves. 0, or -1 with
 * the reason. */
int csod_developer_owns_place(const csod_dev_record *dev, const char *organization,
                              const char *department, csod_error *err);

/* Inserts or updates every developer of the config file (the file wins
 * for the fields it sets), and removes those an earlier load of the file
 * defined and this one does not. Developers added with csodctl are left
 * alone. */
int csod_developers_seed(csod_db *db, const csod_config *cfg, csod_error *err);

/* Calls fn for every active developer. */
int csod_developers_each(csod_db *db, void (*fn)(void *ctx, const csod_dev_record *dev), void *ctx);

/* Creates inbox/<user>/ and outbox/<user>/ under spool. When the Unix user
 * exists, the inbox is owned by them (mode 0700 plus the daemon's group).
 * The outbox is the daemon's, readable by that user alone through an ACL
 * entry (spool_access.h), or by nobody else when there is no such user. */
int csod_developer_make_dirs(const char *spool, const char *user, csod_error *err);

/* Is user a safe folder name: [A-Za-z0-9._-], not starting with '.' or '-',
 * at most 64 bytes. */
int csod_user_name_ok(const char *user);

#endif
