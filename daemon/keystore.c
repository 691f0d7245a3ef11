#include "keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "cluster.h"
#include "keystore_pkcs11.h"
#include "keystore_seal.h"

/* How many private keys the database holds sealed under the master key. */
static int sealed_keys(csod_db *db)
{
	csod_stmt *st = csod_db_prepare(
	    db, "SELECT count(*) FROM keys WHERE backend = 'database' AND blob IS NOT NULL", NULL);
	int n = st && csod_db_step(st) == CSOD_DB_ROW ? csod_db_column_int(st, 0) : 0;
	csod_db_finalize(st);
	return n;
}

csod_keystore *csod_keystore_open(const csod_config *cfg, const char *spool, csod_db *db,
                                  csod_error *err)
{
	csod_keystore *ks = calloc(1, sizeof *ks);
	if (!ks) {
		csod_fail(err, "out of memory");
		return NULL;
	}
	ks->db = db;
	(void)spool;
	int credential = 0;
	if (csod_config_master_key(cfg, ks->master_path, sizeof ks->master_path, &credential) < 0) {
		csod_fail(err, "keys.master_key_file: path too long");
		goto fail;
	}
	int database = strcmp(cfg->keys.backend, "database") == 0;
	/* A systemd credential is a read-only copy: rotations and new keys
	 * happen on its source file (keys.master_key_file), as root. */
	if (database && !credential && csod_keystore_recover_rotation(db, ks->master_path, err) < 0)
		goto fail;
	/* With the pkcs11 backend a master key is needed only for keys sealed
	 * before the switch, so it is read if present, never created. Nor is
	 * one created when keys are already sealed in the database: a missing
	 * master key is then a loss to report, and a new one would only hide
	 * it until the first signature failed. */
	int sealed = sealed_keys(db);
	if (sealed && access(ks->master_path, F_OK) != 0 && errno == ENOENT) {
		csod_fail(err,
		          "master key file %s is missing, but %d key(s) are sealed under it in "
		          "the database: restore it from your backup (the keys cannot be "
		          "recovered without it)",
		          ks->master_path, sealed);
		goto fail;
	}
	if (database || access(ks->master_path, F_OK) == 0) {
		if (ks_sealer_load(&ks->master, ks->master_path, database && !sealed && !credential,
		                   err) < 0)
			goto fail;
		ks->has_master = 1;
	}
	if (!database) {
		const csod_keys_config *k = &cfg->keys;
		ks->token =
		    csod_token_open(k->pkcs11_module, k->pkcs11_token, k->pkcs11_pin_file, err);
		if (!ks->token)
			goto fail;
	}
	return ks;
fail:
	csod_keystore_close(ks);
	return NULL;
}

void csod_keystore_close(csod_keystore *ks)
{
	if (!ks)
		return;
	for (unsigned i = 0; i < KS_CACHE_SLOTS; i++)
		EVP_PKEY_free(ks->cache[i].key);
	ks_sealer_free(&ks->master);
	csod_token_close(ks->token);
	free(ks);
}

/* The CKA_ID (and label) of key row id on the token. */
static void token_id(int64_t id, char *out, size_t len)
{
	snprintf(out, len, "csod-key-%lld", (long long)id);
}

static int64_t insert_row(csod_keystore *ks, const char *backend, const char *algorithm, int bits,
                          csod_error *err)
{
	csod_stmt *st = csod_db_prepare(
	    ks->db,
	    "INSERT INTO keys(backend, algorithm, bits, created) VALUES(?, ?, ?, ?) RETURNING id",
	    err);
	if (!st)
		return -1;
	csod_db_bind_text(st, 1, backend);
	csod_db_bind_text(st, 2, algorithm);
	csod_db_bind_int(st, 3, bits);
	csod_db_bind_int64(st, 4, csod_now());
	int64_t id = csod_db_step(st) == CSOD_DB_ROW ? csod_db_column_int64(st, 0) : -1;
	if (id < 0)
		csod_fail(err, "database: %s", csod_db_errmsg(ks->db));
	csod_db_finalize(st);
	return id;
}

static int update_row(csod_keystore *ks, int64_t id, const char *column, const void *value, int len,
                      csod_error *err)
{
	char sql[64];
	snprintf(sql, sizeof sql, "UPDATE keys SET %s = ? WHERE id = ?", column);
	csod_stmt *st = csod_db_prepare(ks->db, sql, err);
	if (!st)
		return -1;
	if (strcmp(column, "blob") == 0)
		csod_db_bind_blob(st, 1, value, len);
	else {
		char *text = strndup(value, (size_t)len);
		if (!text) {
			csod_db_finalize(st);
			return csod_fail(err, "out of memory");
		}
		csod_db_bind_text(st, 1, text);
		free(text);
	}
	csod_db_bind_int64(st, 2, id);
	int ok = csod_db_step(st) == CSOD_DB_DONE;
	csod_db_finalize(st);
	return ok ? 0 : csod_fail(err, "database: %s", csod_db_errmsg(ks->db));
}

static void delete_row(csod_keystore *ks, int64_t id)
{
	csod_stmt *st = csod_db_prepare(ks->db, "DELETE FROM keys WHERE id = ?", NULL);
	if (st) {
		csod_db_bind_int64(st, 1, id);
		csod_db_step(st);
		csod_db_finalize(st);
	}
}

static int64_t generate_on_token(csod_keystore *ks, const char *algorithm, int bits, EVP_PKEY **out,
                                 csod_error *err)
{
	if (strcmp(algorithm, "rsa") != 0)
		return csod_fail(err, "keys.backend \"pkcs11\" generates RSA keys only, not %s",
		                 algorithm);
	/* One node of a cluster at a time makes a key on the shared token, and
	 * has the module read the token first (csod_token_refresh says why);
	 * the lock is the database's write lock, held to the commit. */
	int own = !csod_db_in_transaction(ks->db);
	if (own && (csod_db_begin(ks->db) < 0 || csod_cluster_lock(ks->db) < 0)) {
		csod_db_rollback(ks->db);
		return csod_fail(err, "database: %s", csod_db_errmsg(ks->db));
	}
	csod_token_refresh(ks->token);
	int64_t id = insert_row(ks, "pkcs11", algorithm, bits, err);
	char label[64], uri[PATH_MAX];
	token_id(id, label, sizeof label);
	/* The URI names the key for people (csod-sign --key, pkcs11-tool). */
	snprintf(uri, sizeof uri, "pkcs11:token=%s;object=%s;type=private",
	         csod_token_label(ks->token), label);
	int made = id >= 0 && csod_token_generate(ks->token, bits, (unsigned char *)label,
	                                          strlen(label), label, err) == 0;
	int ok = made && update_row(ks, id, "uri", uri, -1, err) == 0 &&
	         (!own || csod_db_commit(ks->db) == 0 ||
	          csod_fail(err, "database: %s", csod_db_errmsg(ks->db)) == 0);
	if (!ok) {
		/* No row for a key that is not there (a full token, say), and
		 * no key on the token without its row. */
		if (made)
			csod_keystore_discard(ks, id);
		else if (id >= 0)
			delete_row(ks, id);
		if (own)
			csod_db_rollback(ks->db);
		return -1;
	}
	if (out &&
	    !(*out = csod_token_key(ks->token, (unsigned char *)label, strlen(label), err))) {
		csod_keystore_discard(ks, id);
		return -1;
	}
	return id;
}

void csod_keystore_discard(csod_keystore *ks, int64_t id)
{
	for (unsigned i = 0; i < KS_CACHE_SLOTS; i++)
		if (ks->cache[i].key && ks->cache[i].id == id) {
			EVP_PKEY_free(ks->cache[i].key);
			ks->cache[i].key = NULL;
		}
	/* The token's object goes with its row: the row's id may be given
	 * again (the largest id of a deleted row is), and a second object
	 * with its label would make the key it names ambiguous. */
	if (ks->token) {
		char label[64];
		token_id(id, label, sizeof label);
		if (csod_token_remove(ks->token, (unsigned char *)label, strlen(label)) < 0)
			csod_log(LOG_WARNING, NULL,
			         "token \"%s\": cannot remove the unused key %s; remove it by "
			         "hand before its id is given again",
			         csod_token_label(ks->token), label);
	}
	delete_row(ks, id);
}

int64_t csod_keystore_generate(csod_keystore *ks, const char *algorithm, int bits, EVP_PKEY **out,
                               csod_error *err)
{
	if (ks->token)
		return generate_on_token(ks, algorithm, bits, out, err);
	EVP_PKEY *key = strcmp(algorithm, "ec") == 0
	                    ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", bits == 384 ? "P-384" : "P-256")
	                    : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	if (!key)
		return csod_fail_ssl(err, "cannot generate a %s-%d key", algorithm, bits);
	/* Encoded straight into undumpable scratch, not OpenSSL's heap. */
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	int der_len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, NULL) : -1;
	unsigned char *der = der_len > 0 ? ks_secure_alloc((size_t)der_len) : NULL, *end = der;
	if (der && i2d_PKCS8_PRIV_KEY_INFO(p8, &end) != der_len) {
		ks_secure_free(der, (size_t)der_len);
		der = NULL;
	}
	PKCS8_PRIV_KEY_INFO_free(p8);
	int64_t id = -1;
	unsigned char *blob = der ? malloc((size_t)der_len + NONCE_LEN + TAG_LEN) : NULL;
	int blob_len = 0;
	if (!blob) {
		csod_fail_ssl(err, "cannot encode the new key");
		goto out;
	}
	/* The row first, for its id, which the seal is bound to. */
	id = insert_row(ks, "database", algorithm, bits, err);
	if (id < 0)
		goto out;
	if (ks_seal(ks->master.key, id, der, der_len, blob, &blob_len) < 0) {
		csod_fail_ssl(err, "cannot seal the new key");
		id = -1;
	} else if (update_row(ks, id, "blob", blob, blob_len, err) < 0) {
		id = -1;
	}
out:
	ks_secure_free(der, (size_t)der_len);
	free(blob);
	if (id >= 0 && out)
		*out = key;
	else
		EVP_PKEY_free(key);
	return id;
}

/* Unseals a blob with key into PKCS#8 and decodes it. */
static EVP_PKEY *open_blob(const unsigned char *key, int64_t id, const unsigned char *blob,
                           int blob_len, csod_error *err)
{
	unsigned char *plain = blob_len > 0 ? ks_secure_alloc((size_t)blob_len) : NULL;
	int plain_len = 0;
	EVP_PKEY *pkey = NULL;
	if (!plain || ks_unseal(key, id, blob, blob_len, plain, &plain_len) < 0) {
		csod_fail(err,
		          "key %lld cannot be unsealed: wrong master key, or the record was "
		          "altered",
		          (long long)id);
	} else {
		const unsigned char *p = plain;
		PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, plain_len);
		pkey = p8 ? EVP_PKCS82PKEY(p8) : NULL;
		PKCS8_PRIV_KEY_INFO_free(p8);
		if (!pkey)
			csod_fail_ssl(err, "key %lld does not decode", (long long)id);
	}
	ks_secure_free(plain, (size_t)blob_len);
	return pkey;
}

static EVP_PKEY *cached(csod_keystore *ks, int64_t id)
{
	for (unsigned i = 0; i < KS_CACHE_SLOTS; i++)
		if (ks->cache[i].key && ks->cache[i].id == id) {
			EVP_PKEY_up_ref(ks->cache[i].key);
			return ks->cache[i].key;
		}
	return NULL;
}

static void remember(csod_keystore *ks, int64_t id, EVP_PKEY *key)
{
	unsigned slot = ks->cache_next++ % KS_CACHE_SLOTS;
	EVP_PKEY_free(ks->cache[slot].key);
	EVP_PKEY_up_ref(key);
	ks->cache[slot].id = id;
	ks->cache[slot].key = key;
}

EVP_PKEY *csod_keystore_load(csod_keystore *ks, int64_t id, csod_error *err)
{
	EVP_PKEY *hit = cached(ks, id);
	if (hit)
		return hit;
	csod_stmt *st = csod_db_prepare(ks->db, "SELECT backend, blob FROM keys WHERE id = ?", err);
	if (!st)
		return NULL;
	csod_db_bind_int64(st, 1, id);
	EVP_PKEY *key = NULL;
	if (csod_db_step(st) != CSOD_DB_ROW) {
		csod_fail(err, "key %lld is not in the keystore", (long long)id);
	} else if (strcmp(csod_db_text(st, 0), "pkcs11") == 0) {
		char label[64];
		token_id(id, label, sizeof label);
		if (!ks->token)
			csod_fail(err,
			          "key %lld is on a PKCS#11 token but keys.backend is not pkcs11",
			          (long long)id);
		else
			key = csod_token_key(ks->token, (unsigned char *)label, strlen(label), err);
	} else if (!ks->has_master) {
		csod_fail(err, "key %lld is sealed in the database but there is no master key file",
		          (long long)id);
	} else {
		key = open_blob(ks->master.key, id, csod_db_column_blob(st, 1),
		                csod_db_column_bytes(st, 1), err);
	}
	csod_db_finalize(st);
	if (key)
		remember(ks, id, key);
	return key;
}
