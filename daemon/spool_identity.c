/* A spool and its database belong together. Losing state/ (a disk fault,
 * a restore gone wrong, or an attack that deletes files through the
 * daemon) must never look like a first start: csodd would silently begin
 * again with a new CA, a new master key and an empty history. So the first
 * start writes a random spool id both into the database and into
 * .csod-spool-id at the spool's top, and every later start checks that the
 * two agree before anything is created. */
#include "spool_identity.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "../lib/fsutil.h"

#define MARKER "/.csod-spool-id"

static int read_marker(const char *spool, char *out, size_t len)
{
	char path[PATH_MAX], *text = NULL;
	size_t got = 0;
	out[0] = '\0';
	if (csod_path(path, sizeof path, "%s" MARKER, spool) < 0 ||
	    csod_read_file(path, 256, &text, &got, NULL) < 0)
		return access(path, F_OK) == 0 || errno != ENOENT ? -1 : 0;
	snprintf(out, len, "%.*s", (int)strcspn(text, "\n"), text);
	free(text);
	return out[0] ? 1 : -1;
}

static int write_marker(const char *spool, const char *id, csod_error *err)
{
	char path[PATH_MAX], tmp[PATH_MAX], text[128];
	if (csod_path(path, sizeof path, "%s" MARKER, spool) < 0 ||
	    csod_path(tmp, sizeof tmp, "%s/tmp", spool) < 0)
		return csod_fail(err, "spool path too long: %s", spool);
	int n = snprintf(text, sizeof text, "%s\n", id);
	return csod_write_file_atomic(tmp, path, text, (size_t)n, 0644, err);
}

/* Request views published under requests/: evidence that the spool has
 * been used, for spools from before the id existed. */
static int has_published_requests(const char *spool)
{
	char path[PATH_MAX];
	if (csod_path(path, sizeof path, "%s/requests", spool) < 0)
		return 0;
	DIR *dh = opendir(path);
	if (!dh)
		return 0;
	struct dirent *e;
	int found = 0;
	while (!found && (e = readdir(dh)))
		found = e->d_name[0] != '.';
	closedir(dh);
	return found;
}

static int count_requests(csod_db *db)
{
	csod_stmt *st = csod_db_prepare(db, "SELECT count(*) FROM requests", NULL);
	int n = st && csod_db_step(st) == CSOD_DB_ROW ? csod_db_column_int(st, 0) : 0;
	csod_db_finalize(st);
	return n;
}

int csod_spool_identity_check(const char *spool, const char *db_path, csod_db *db, csod_error *err)
{
	char marker[80], recorded[80] = "";
	int have_marker = read_marker(spool, marker, sizeof marker);
	if (have_marker < 0)
		return csod_fail(err, "cannot read %s" MARKER, spool);
	int have_recorded =
	    csod_db_setting_get(db, "spool_id", recorded, sizeof recorded) == 0 && recorded[0];
	if (have_marker && !have_recorded)
		return csod_fail(err,
		                 "%s is not this spool's database: the spool %s was set up with "
		                 "id %s (%s" MARKER "), and the database has no record of it, so "
		                 "it was lost or replaced. Restore the database and the master "
		                 "key from a backup; to start afresh on purpose, with new keys "
		                 "and no history, remove %s" MARKER,
		                 db_path, spool, marker, spool, spool);
	if (have_marker && strcmp(marker, recorded) != 0)
		return csod_fail(err,
		                 "%s belongs to spool id %s, but %s" MARKER " says %s: the "
		                 "database or the spool was swapped",
		                 db_path, recorded, spool, marker);
	if (have_recorded)
		return have_marker ? 0 : write_marker(spool, recorded, err);
	/* No id anywhere: a first start, or a spool from before ids. */
	if (!count_requests(db) && has_published_requests(spool))
		return csod_fail(err,
		                 "%s is empty, but %s/requests holds requests: the database was "
		                 "lost. Restore it and the master key from a backup; to start "
		                 "afresh on purpose, empty %s/requests",
		                 db_path, spool, spool);
	unsigned char raw[16];
	char id[40];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return csod_fail(err, "cannot make a spool id");
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	if (csod_db_setting_set(db, "spool_id", id, err) < 0)
		return -1;
	return write_marker(spool, id, err);
}
