#include "developers.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "audit.h"
#include "spool_access.h"

int csod_user_name_ok(const char *user)
{
	size_t n = strlen(user);
	if (n == 0 || n > 64 || user[0] == '.' || user[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = user[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static void copy_col(csod_stmt *st, int col, char *out, size_t len)
{
	const char *s = csod_db_text(st, col);
	snprintf(out, len, "%s", s ? s : "");
}

static void fill_record(csod_stmt *st, csod_dev_record *out)
{
	copy_col(st, 0, out->user, sizeof out->user);
	copy_col(st, 1, out->email, sizeof out->email);
	copy_col(st, 2, out->name, sizeof out->name);
	copy_col(st, 3, out->organization, sizeof out->organization);
	copy_col(st, 4, out->department, sizeof out->department);
	copy_col(st, 5, out->digests, sizeof out->digests);
	copy_col(st, 6, out->service, sizeof out->service);
	/* A row from before places (or one csodctl wrote without them) is in
	 * its organization/department alone. */
	out->n_places = csod_places_from_json(csod_db_text(st, 7), out->places);
	if (out->n_places == 0 || strcmp(out->places[0].organization, out->organization) != 0 ||
	    strcmp(out->places[0].department, out->department) != 0) {
		snprintf(out->places[0].organization, sizeof out->places[0].organization, "%s",
		         out->organization);
		snprintf(out->places[0].department, sizeof out->places[0].department, "%s",
		         out->department);
		out->n_places = 1;
	}
}

#define DEV_COLUMNS "\"user\", email, name, organization, department, digests, service, places"

int csod_developer_lookup(csod_db *db, const char *user, csod_dev_record *out)
{
	csod_stmt *st = csod_db_cached(
	    db, "SELECT " DEV_COLUMNS " FROM developers WHERE \"user\" = ? AND removed IS NULL",
	    NULL);
	if (!st)
		return -1;
	csod_db_bind_text(st, 1, user);
	int rc = csod_db_step(st);
	if (rc == CSOD_DB_ROW)
		fill_record(st, out);
	csod_db_release(st);
	return rc == CSOD_DB_ROW ? 0 : rc == CSOD_DB_DONE ? 1 : -1;
}

int csod_developers_each(csod_db *db, void (*fn)(void *ctx, const csod_dev_record *dev), void *ctx)
{
	csod_stmt *st = csod_db_prepare(
	    db, "SELECT " DEV_COLUMNS " FROM developers WHERE removed IS NULL ORDER BY \"user\"",
	    NULL);
	if (!st)
		return -1;
	csod_dev_record rec;
	while (csod_db_step(st) == CSOD_DB_ROW) {
		fill_record(st, &rec);
		fn(ctx, &rec);
	}
	csod_db_finalize(st);
	return 0;
}

int csod_developer_owns_place(const csod_dev_record *dev, const char *organization,
                              const char *department, csod_error *err)
{
	int org_known = 0;
	for (int i = 0; i < dev->n_places; i++) {
		if (strcmp(organization, dev->places[i].organization) != 0)
			continue;
		org_known = 1;
		if (strcmp(department, dev->places[i].department) == 0)
			return 0;
	}
	char places[1024];
	csod_places_text(dev->places, dev->n_places, places, sizeof places);
	return csod_fail(err, "request.conf: %s '%s' is not yours (%s is in %s)",
	                 org_known ? "department" : "organization",
	                 org_known ? department : organization, dev->user, places);
}

static void join_list(char **items, char *out, size_t len)
{
	out[0] = '\0';
	for (int i = 0; items && items[i]; i++) {
		size_t n = strlen(out);
		snprintf(out + n, len - n, "%s%s", i ? "," : "", items[i]);
	}
}

/* Removes the developers a previous load of the file defined and this one
 * no longer does (marked -1 by csod_developers_seed), with an audit entry
 * each: the file wins, also when it drops someone. */
static int remove_dropped(csod_db *db, csod_error *err)
{
	csod_stmt *st = csod_db_prepare(
	    db, "SELECT \"user\" FROM developers WHERE from_config = -1 AND removed IS NULL", err);
	if (!st)
		return -1;
	while (csod_db_step(st) == CSOD_DB_ROW)
		csod_audit(db, "csodd", "developer.remove", csod_db_text(st, 0),
		           "no longer in the configuration file");
	csod_db_finalize(st);
	st =
	    csod_db_prepare(db,
	                    "UPDATE developers SET removed = COALESCE(removed, ?), from_config = 0 "
	                    "WHERE from_config = -1",
	                    err);
	if (!st)
		return -1;
	csod_db_bind_int64(st, 1, csod_now());
	int rc = csod_db_step(st) == CSOD_DB_DONE
	             ? 0
	             : csod_fail(err, "database: %s", csod_db_errmsg(db));
	csod_db_finalize(st);
	return rc;
}

/* Every place of a developer of the file: organization/department first,
 * then places (checked at load). */
static char *config_places(const csod_config *cfg, const csod_developer *d)
{
	csod_place p[CSOD_MAX_PLACES];
	int n = 1;
	snprintf(p[0].organization, sizeof p[0].organization, "%s", d->organization);
	snprintf(p[0].department, sizeof p[0].department, "%s", d->department ? d->department : "");
	for (int k = 0; d->places && d->places[k] && n < CSOD_MAX_PLACES; k++)
		if (csod_place_resolve(cfg, d->places[k], &p[n]) == 1)
			n++;
	return csod_places_to_json(p, n);
}

static int seed(csod_db *db, const csod_config *cfg, csod_error *err)
{
	/* Everyone the file defined so far is marked -1; those it still
	 * defines become 1 again below, the rest are removed. */
	if (csod_db_exec(db, "UPDATE developers SET from_config = -1 WHERE from_config = 1", err) <
	    0)
		return -1;
	csod_stmt *st = csod_db_prepare(
	    db,
	    "INSERT INTO developers(" DEV_COLUMNS ", created, from_config) VALUES(?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, 1) "
	    "ON CONFLICT(\"user\") DO UPDATE SET email = excluded.email, name = excluded.name, "
	    "organization = excluded.organization, department = excluded.department, "
	    "digests = excluded.digests, service = excluded.service, places = excluded.places, "
	    "removed = NULL, from_config = 1",
	    err);
	if (!st)
		return -1;
	int rc = 0;
	for (int i = 0; i < cfg->n_developers && rc == 0; i++) {
		const csod_developer *d = &cfg->developers[i];
		char digests[128];
		join_list(d->digests, digests, sizeof digests);
		csod_db_bind_text(st, 1, d->user);
		csod_db_bind_text(st, 2, d->email ? d->email : "");
		csod_db_bind_text(st, 3, d->name);
		csod_db_bind_text(st, 4, d->organization);
		csod_db_bind_text(st, 5, d->department);
		csod_db_bind_text(st, 6, digests);
		csod_db_bind_text(st, 7, d->service);
		char *places = config_places(cfg, d);
		csod_db_bind_text(st, 8, places);
		free(places);
		csod_db_bind_int64(st, 9, csod_now());
		if (csod_db_step(st) != CSOD_DB_DONE)
			rc = csod_fail(err, "database: cannot record developer %s: %s", d->user,
			               csod_db_errmsg(db));
		csod_db_reset(st);
	}
	csod_db_finalize(st);
	return rc < 0 ? rc : remove_dropped(db, err);
}

int csod_developers_seed(csod_db *db, const csod_config *cfg, csod_error *err)
{
	if (csod_db_begin(db) < 0)
		return csod_fail(err, "database: %s", csod_db_errmsg(db));
	if (seed(db, cfg, err) < 0) {
		csod_db_rollback(db);
		return -1;
	}
	if (csod_db_commit(db) < 0)
		return csod_fail(err, "database: %s", csod_db_errmsg(db));
	return 0;
}

int csod_developer_make_dirs(const char *spool, const char *user, csod_error *err)
{
	if (!csod_user_name_ok(user))
		return csod_fail(err, "'%s' is not a usable developer name", user);
	char inbox[PATH_MAX], outbox[PATH_MAX];
	if (csod_path(inbox, sizeof inbox, "%s/inbox/%s", spool, user) < 0 ||
	    csod_path(outbox, sizeof outbox, "%s/outbox/%s", spool, user) < 0)
		return csod_fail(err, "spool path too long");
	struct passwd *pw = getpwnam(user);
	/* Without a Unix user of that name (the demo, tests) the inbox is the
	 * daemon's own, open to read as an ordinary spool would be. */
	mode_t inbox_mode = pw ? 02770 : 0755;
	if (csod_mkdir_p(inbox, inbox_mode, err) < 0 || csod_mkdir_p(outbox, 0700, err) < 0)
		return -1;
	/* The developer owns their inbox; the daemon's group lets it take
	 * drops out. */
	if (pw && (chown(inbox, pw->pw_uid, getegid()) < 0 || chmod(inbox, inbox_mode) < 0))
		return csod_fail_errno(err, "cannot set the owner of %s's inbox", user);
	/* The outbox is the daemon's, readable by the developer alone; one
	 * they cannot read is an error to report, not a folder to sign into. */
	return csod_outbox_restrict(spool, user, err) == 0 ? 0 : -1;
}
