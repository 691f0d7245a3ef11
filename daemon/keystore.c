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

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "../lib/fsutil.h"

#define MASTER_LEN 32
#define NONCE_LEN  12
#define TAG_LEN    16

struct csod_keystore {
	csod_db *db;
	unsigned char *page; /* one locked, undumpable page: master + derived key */
	unsigned char *master;
	unsigned char *sealing_key;
};

static int read_master(const char *path, unsigned char *out, csod_error *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		/* First start: make one. O_EXCL so two starts cannot race. */
		unsigned char fresh[MASTER_LEN];
		if (RAND_priv_bytes(fresh, sizeof fresh) != 1)
			return csod_fail_ssl(err, "cannot make a master key");
		int w = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
		ssize_t n = w < 0 ? -1 : write(w, fresh, sizeof fresh);
		int synced = w >= 0 && n == (ssize_t)sizeof fresh && fsync(w) == 0;
		if (w >= 0)
			close(w);
		OPENSSL_cleanse(fresh, sizeof fresh);
		if (!synced)
			return csod_fail_errno(err, "cannot create the master key file %s", path);
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return csod_fail_errno(err, "cannot open the master key file %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return csod_fail(err, "master key file %s is not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return csod_fail(err,
		                 "master key file %s has mode %04o: group and others must have no "
		                 "access (chmod 0400)",
		                 path, (unsigned)(st.st_mode & 07777));
	}
	if (st.st_size != MASTER_LEN) {
		close(fd);
		return csod_fail(err, "master key file %s must hold exactly %d bytes, not %lld",
		                 path, MASTER_LEN, (long long)st.st_size);
	}
	ssize_t n = read(fd, out, MASTER_LEN);
	close(fd);
	if (n != MASTER_LEN)
		return csod_fail_errno(err, "cannot read the master key file %s", path);
	return 0;
}

static int derive(const unsigned char *master, unsigned char *out)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	char digest[] = "SHA256";
	char salt[] = "csod keystore";
	char info[] = "aes-256-gcm sealing key v1";
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)master, MASTER_LEN),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, strlen(salt)),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, strlen(info)),
	    OSSL_PARAM_construct_end(),
	};
	int ok = ctx && EVP_KDF_derive(ctx, out, 32, params) == 1;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return ok ? 0 : -1;
}

csod_keystore *csod_keystore_open(const csod_config *cfg, const char *spool, csod_db *db,
                                  csod_error *err)
{
	if (strcmp(cfg->keys.backend, "database") != 0) {
		csod_fail(err, "keys.backend \"%s\" is not available in this build yet",
		          cfg->keys.backend);
		return NULL;
	}
	char path[PATH_MAX];
	const char *file = cfg->keys.master_key_file;
	if (file[0] == '/')
		snprintf(path, sizeof path, "%s", file);
	else
		snprintf(path, sizeof path, "%s/%s", spool, file);
	csod_keystore *ks = calloc(1, sizeof *ks);
	long pagesize = sysconf(_SC_PAGESIZE);
	if (!ks || posix_memalign((void **)&ks->page, (size_t)pagesize, (size_t)pagesize) != 0) {
		free(ks);
		csod_fail(err, "out of memory");
		return NULL;
	}
	/* Best effort: keep the key material out of swap and core files. */
	mlock(ks->page, (size_t)pagesize);
	madvise(ks->page, (size_t)pagesize, MADV_DONTDUMP);
	ks->master = ks->page;
	ks->sealing_key = ks->page + MASTER_LEN;
	ks->db = db;
	if (read_master(path, ks->master, err) < 0 || derive(ks->master, ks->sealing_key) < 0) {
		if (!err || !err->msg[0])
			csod_fail(err, "cannot derive the sealing key");
		csod_keystore_close(ks);
		return NULL;
	}
	return ks;
}

void csod_keystore_close(csod_keystore *ks)
{
	if (!ks)
		return;
	long pagesize = sysconf(_SC_PAGESIZE);
	OPENSSL_cleanse(ks->page, (size_t)pagesize);
	munlock(ks->page, (size_t)pagesize);
	free(ks->page);
	free(ks);
}

/* AAD binds a sealed blob to its row: a blob moved to another key id does
 * not open. */
static void aad_for(int64_t id, char *out, size_t len)
{
	snprintf(out, len, "csod-key:%lld", (long long)id);
}

static int seal(csod_keystore *ks, int64_t id, const unsigned char *plain, int plain_len,
                unsigned char *out, int *out_len)
{
	char aad[64];
	aad_for(id, aad, sizeof aad);
	if (RAND_bytes(out, NONCE_LEN) != 1)
		return -1;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, f = 0,
	    ok = ctx &&
	         EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, ks->sealing_key, out) == 1 &&
	         EVP_EncryptUpdate(ctx, NULL, &n, (unsigned char *)aad, (int)strlen(aad)) == 1 &&
	         EVP_EncryptUpdate(ctx, out + NONCE_LEN, &n, plain, plain_len) == 1 &&
	         EVP_EncryptFinal_ex(ctx, out + NONCE_LEN + n, &f) == 1 &&
	         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + NONCE_LEN + n + f) ==
	             1;
	EVP_CIPHER_CTX_free(ctx);
	*out_len = NONCE_LEN + n + f + TAG_LEN;
	return ok ? 0 : -1;
}

static int unseal(csod_keystore *ks, int64_t id, const unsigned char *blob, int blob_len,
                  unsigned char *plain, int *plain_len)
{
	if (blob_len < NONCE_LEN + TAG_LEN + 1)
		return -1;
	char aad[64];
	aad_for(id, aad, sizeof aad);
	int clen = blob_len - NONCE_LEN - TAG_LEN, n = 0, f = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int ok = ctx &&
	         EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, ks->sealing_key, blob) == 1 &&
	         EVP_DecryptUpdate(ctx, NULL, &n, (unsigned char *)aad, (int)strlen(aad)) == 1 &&
	         EVP_DecryptUpdate(ctx, plain, &n, blob + NONCE_LEN, clen) == 1 &&
	         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
	                             (void *)(blob + NONCE_LEN + clen)) == 1 &&
	         EVP_DecryptFinal_ex(ctx, plain + n, &f) == 1;
	EVP_CIPHER_CTX_free(ctx);
	*plain_len = n + f;
	return ok ? 0 : -1;
}

int64_t csod_keystore_generate(csod_keystore *ks, const char *algorithm, int bits, EVP_PKEY **out,
                               csod_error *err)
{
	EVP_PKEY *key = strcmp(algorithm, "ec") == 0
	                    ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", bits == 384 ? "P-384" : "P-256")
	                    : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	if (!key)
		return csod_fail_ssl(err, "cannot generate a %s-%d key", algorithm, bits);
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	unsigned char *der = NULL;
	int der_len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
	PKCS8_PRIV_KEY_INFO_free(p8);
	int64_t id = -1;
	sqlite3_stmt *st = NULL;
	unsigned char *blob = der_len > 0 ? malloc((size_t)der_len + NONCE_LEN + TAG_LEN) : NULL;
	if (!blob) {
		csod_fail_ssl(err, "cannot encode the new key");
		goto out;
	}
	/* The row first, for its id, which the seal is bound to. */
	st = csod_db_prepare(
	    ks->db,
	    "INSERT INTO keys(backend, algorithm, bits, created) VALUES('database', "
	    "?, ?, ?)",
	    err);
	if (!st)
		goto out;
	sqlite3_bind_text(st, 1, algorithm, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, bits);
	sqlite3_bind_int64(st, 3, csod_now());
	if (sqlite3_step(st) != SQLITE_DONE) {
		csod_fail(err, "database: %s", sqlite3_errmsg(ks->db->sql));
		goto out;
	}
	sqlite3_finalize(st);
	id = sqlite3_last_insert_rowid(ks->db->sql);
	int blob_len;
	if (seal(ks, id, der, der_len, blob, &blob_len) < 0) {
		csod_fail_ssl(err, "cannot seal the new key");
		id = -1;
		st = NULL;
		goto out;
	}
	st = csod_db_prepare(ks->db, "UPDATE keys SET blob = ? WHERE id = ?", err);
	if (!st) {
		id = -1;
		goto out;
	}
	sqlite3_bind_blob(st, 1, blob, blob_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		csod_fail(err, "database: %s", sqlite3_errmsg(ks->db->sql));
		id = -1;
	}
out:
	sqlite3_finalize(st);
	if (der) {
		OPENSSL_cleanse(der, (size_t)der_len);
		OPENSSL_free(der);
	}
	free(blob);
	if (id >= 0 && out)
		*out = key;
	else
		EVP_PKEY_free(key);
	return id;
}

EVP_PKEY *csod_keystore_load(csod_keystore *ks, int64_t id, csod_error *err)
{
	sqlite3_stmt *st = csod_db_prepare(ks->db, "SELECT blob FROM keys WHERE id = ?", err);
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	EVP_PKEY *key = NULL;
	if (sqlite3_step(st) != SQLITE_ROW) {
		csod_fail(err, "key %lld is not in the keystore", (long long)id);
		sqlite3_finalize(st);
		return NULL;
	}
	const unsigned char *blob = sqlite3_column_blob(st, 0);
	int blob_len = sqlite3_column_bytes(st, 0);
	unsigned char *plain = blob_len > 0 ? malloc((size_t)blob_len) : NULL;
	int plain_len = 0;
	if (!plain || unseal(ks, id, blob, blob_len, plain, &plain_len) < 0) {
		csod_fail(err,
		          "key %lld cannot be unsealed: wrong master key, or the record was "
		          "altered",
		          (long long)id);
	} else {
		const unsigned char *p = plain;
		PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, plain_len);
		key = p8 ? EVP_PKCS82PKEY(p8) : NULL;
		PKCS8_PRIV_KEY_INFO_free(p8);
		if (!key)
			csod_fail_ssl(err, "key %lld does not decode", (long long)id);
	}
	if (plain) {
		OPENSSL_cleanse(plain, (size_t)blob_len);
		free(plain);
	}
	sqlite3_finalize(st);
	return key;
}
