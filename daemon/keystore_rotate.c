/* Master key rotation for the database keystore, and the recovery of one a
 * crash interrupted. The order makes every crash point recoverable:
 *   1. the new key is written to <master>.new (fsynced);
 *   2. every blob is resealed in one SQLite transaction;
 *   3. <master>.new is renamed over <master>.
 * A crash before 2 commits leaves the old blobs and a stray .new, which does
 * not open them: it is removed. A crash between 2 and 3 leaves new blobs
 * and both files: the .new opens the blobs, so it is renamed into place. */
#include "keystore.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "keystore_seal.h"

static void new_path_of(const char *master_path, char *out, size_t len)
{
	snprintf(out, len, "%s.new", master_path);
}

static int install(const char *new_path, const char *master_path, csod_error *err)
{
	if (rename(new_path, master_path) < 0)
		return csod_fail_errno(err, "cannot rename %s to %s", new_path, master_path);
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", master_path);
	csod_fsync_dir(dirname(dir));
	return 0;
}

/* Whether key can unseal the blob of row id. */
static int opens(const unsigned char *key, int64_t id, const unsigned char *blob, int len)
{
	unsigned char *plain = len > 0 ? ks_secure_alloc((size_t)len) : NULL;
	int plain_len = 0;
	int ok = plain && ks_unseal(key, id, blob, len, plain, &plain_len) == 0;
	ks_secure_free(plain, (size_t)len);
	return ok;
}

int csod_keystore_recover_rotation(csod_db *db, const char *master_path, csod_error *err)
{
	char new_path[PATH_MAX + 8];
	new_path_of(master_path, new_path, sizeof new_path);
	if (access(new_path, F_OK) != 0)
		return 0;
	ks_sealer fresh;
	if (ks_sealer_load(&fresh, new_path, 0, err) < 0) {
		ks_sealer_free(&fresh);
		return -1;
	}
	csod_stmt *st = csod_db_prepare(db,
	                                "SELECT id, blob FROM keys WHERE backend = 'database' "
	                                "AND blob IS NOT NULL ORDER BY id LIMIT 1",
	                                err);
	if (!st) {
		ks_sealer_free(&fresh);
		return -1;
	}
	int committed = csod_db_step(st) == CSOD_DB_ROW &&
	                opens(fresh.key, csod_db_column_int64(st, 0), csod_db_column_blob(st, 1),
	                      csod_db_column_bytes(st, 1));
	csod_db_finalize(st);
	ks_sealer_free(&fresh);
	if (committed) {
		csod_log(LOG_WARNING, NULL,
		         "finishing an interrupted master key rotation: %s replaces %s", new_path,
		         master_path);
		return install(new_path, master_path, err);
	}
	csod_log(LOG_WARNING, NULL,
	         "removing %s: a master key rotation was interrupted before it committed",
	         new_path);
	if (unlink(new_path) < 0)
		return csod_fail_errno(err, "cannot remove %s", new_path);
	return 0;
}

/* Reseals one row from old to new key inside the caller's transaction. */
static int reseal(csod_db *db, int64_t id, const unsigned char *old_key,
                  const unsigned char *new_key, csod_error *err)
{
	csod_stmt *st = csod_db_prepare(db, "SELECT blob FROM keys WHERE id = ?", err);
	if (!st)
		return -1;
	csod_db_bind_int64(st, 1, id);
	int len = csod_db_step(st) == CSOD_DB_ROW ? csod_db_column_bytes(st, 0) : 0;
	unsigned char *plain = len > 0 ? ks_secure_alloc((size_t)len) : NULL;
	unsigned char *blob = len > 0 ? malloc((size_t)len + NONCE_LEN + TAG_LEN) : NULL;
	int plain_len = 0, blob_len = 0, rc = -1;
	if (!plain || !blob ||
	    ks_unseal(old_key, id, csod_db_column_blob(st, 0), len, plain, &plain_len) < 0) {
		csod_fail(err,
		          "key %lld cannot be unsealed with the current master key (wrong master "
		          "key?): nothing was changed",
		          (long long)id);
	} else if (ks_seal(new_key, id, plain, plain_len, blob, &blob_len) < 0) {
		csod_fail_ssl(err, "cannot reseal key %lld", (long long)id);
	} else {
		rc = 0;
	}
	csod_db_finalize(st);
	ks_secure_free(plain, (size_t)len);
	if (rc == 0) {
		st = csod_db_prepare(db, "UPDATE keys SET blob = ? WHERE id = ?", err);
		if (st) {
			csod_db_bind_blob(st, 1, blob, blob_len);
			csod_db_bind_int64(st, 2, id);
			if (csod_db_step(st) != CSOD_DB_DONE)
				rc = csod_fail(err, "database: %s", csod_db_errmsg(db));
			csod_db_finalize(st);
		} else {
			rc = -1;
		}
	}
	free(blob);
	return rc;
}

static int reseal_all(csod_db *db, const unsigned char *old_key, const unsigned char *new_key,
                      int *count, csod_error *err)
{
	csod_stmt *st = csod_db_prepare(
	    db, "SELECT id FROM keys WHERE backend = 'database' AND blob IS NOT NULL", err);
	if (!st)
		return -1;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	while (csod_db_step(st) == CSOD_DB_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			int64_t *grown = realloc(ids, cap * sizeof *ids);
			if (!grown) {
				free(ids);
				csod_db_finalize(st);
				return csod_fail(err, "out of memory");
			}
			ids = grown;
		}
		ids[n++] = csod_db_column_int64(st, 0);
	}
	csod_db_finalize(st);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = reseal(db, ids[i], old_key, new_key, err);
	free(ids);
	*count = (int)n;
	return rc;
}

int csod_keystore_rotate_master(const csod_config *cfg, const char *spool, csod_db *db, int *count,
                                csod_error *err)
{
	if (strcmp(cfg->keys.backend, "database") != 0)
		return csod_fail(err,
		                 "keys.backend is \"%s\": only the database keystore has a "
		                 "master key",
		                 cfg->keys.backend);
	char where[PATH_MAX];
	int credential = 0;
	if (csod_config_master_key(cfg, where, sizeof where, &credential) == 0 && credential)
		return csod_fail(err,
		                 "the master key is a systemd credential here (%s), a read-only "
		                 "copy: rotate its source, keys.master_key_file, as root with "
		                 "csodd stopped",
		                 where);
	csod_keystore *ks = csod_keystore_open(cfg, spool, db, err);
	if (!ks)
		return -1;
	char new_path[PATH_MAX + 8];
	new_path_of(ks->master_path, new_path, sizeof new_path);
	ks_sealer fresh;
	memset(&fresh, 0, sizeof fresh);
	int rc = -1;
	if (ks_create_master(new_path, err) < 0)
		goto out;
	if (ks_sealer_load(&fresh, new_path, 0, err) < 0 || csod_db_begin(db) < 0) {
		if (!err->msg[0])
			csod_fail(err, "database: %s", csod_db_errmsg(db));
		unlink(new_path);
		goto out;
	}
	if (reseal_all(db, ks->master.key, fresh.key, count, err) < 0 || csod_db_commit(db) < 0) {
		if (!err->msg[0])
			csod_fail(err, "database: %s", csod_db_errmsg(db));
		csod_db_rollback(db);
		unlink(new_path);
		goto out;
	}
	/* Committed: from here on only the new key opens the blobs. */
	rc = install(new_path, ks->master_path, err);
out:
	ks_sealer_free(&fresh);
	csod_keystore_close(ks);
	return rc;
}
