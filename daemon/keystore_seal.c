#include "keystore_seal.h"

#include <errno.h>
#include <fcntl.h>
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

#include "../lib/fsutil.h"

static int ks_sealer_alloc(ks_sealer *s)
{
	long pagesize = sysconf(_SC_PAGESIZE);
	memset(s, 0, sizeof *s);
	if (posix_memalign((void **)&s->page, (size_t)pagesize, (size_t)pagesize) != 0)
		return -1;
	/* Best effort: keep the key material out of swap and core files. */
	mlock(s->page, (size_t)pagesize);
	madvise(s->page, (size_t)pagesize, MADV_DONTDUMP);
	s->master = s->page;
	s->key = s->page + MASTER_LEN;
	return 0;
}

void ks_sealer_free(ks_sealer *s)
{
	if (!s->page)
		return;
	long pagesize = sysconf(_SC_PAGESIZE);
	OPENSSL_cleanse(s->page, (size_t)pagesize);
	munlock(s->page, (size_t)pagesize);
	free(s->page);
	memset(s, 0, sizeof *s);
}

/* Writes a fresh random master key to path (which must not exist), mode
 * 0400, fsynced. */
int ks_create_master(const char *path, csod_error *err)
{
	unsigned char fresh[MASTER_LEN];
	if (RAND_priv_bytes(fresh, sizeof fresh) != 1)
		return csod_fail_ssl(err, "cannot make a master key");
	/* O_EXCL so two starts cannot race. */
	int w = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	ssize_t n = w < 0 ? -1 : write(w, fresh, sizeof fresh);
	int synced = w >= 0 && n == (ssize_t)sizeof fresh && fsync(w) == 0;
	if (w >= 0)
		close(w);
	OPENSSL_cleanse(fresh, sizeof fresh);
	if (!synced)
		return csod_fail_errno(err, "cannot create the master key file %s", path);
	return 0;
}

static int read_master(const char *path, int create, unsigned char *out, csod_error *err)
{
	if (create && access(path, F_OK) != 0 && errno == ENOENT && ks_create_master(path, err) < 0)
		return -1;
	off_t size = 0;
	int fd = csod_open_secret(path, "master key file", &size, err);
	if (fd < 0)
		return -1;
	if (size != MASTER_LEN) {
		close(fd);
		return csod_fail(err, "master key file %s must hold exactly %d bytes, not %lld",
		                 path, MASTER_LEN, (long long)size);
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

/* Reads the master key file at path into s and derives the sealing key. */
int ks_sealer_load(ks_sealer *s, const char *path, int create, csod_error *err)
{
	if (ks_sealer_alloc(s) < 0)
		return csod_fail(err, "out of memory");
	if (read_master(path, create, s->master, err) < 0)
		return -1;
	if (derive(s->master, s->key) < 0)
		return csod_fail_ssl(err, "cannot derive the sealing key");
	return 0;
}

static size_t ks_secure_size(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return (len + page - 1) / page * page;
}

unsigned char *ks_secure_alloc(size_t len)
{
	void *p = NULL;
	if (len == 0 || posix_memalign(&p, (size_t)sysconf(_SC_PAGESIZE), ks_secure_size(len)) != 0)
		return NULL;
	madvise(p, ks_secure_size(len), MADV_DONTDUMP);
	return p;
}

void ks_secure_free(unsigned char *p, size_t len)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, ks_secure_size(len));
	free(p);
}

/* AAD binds a sealed blob to its row: a blob moved to another key id does
 * not open. */
static void aad_for(int64_t id, char *out, size_t len)
{
	snprintf(out, len, "csod-key:%lld", (long long)id);
}

int ks_seal(const unsigned char *key, int64_t id, const unsigned char *plain, int plain_len,
            unsigned char *out, int *out_len)
{
	char aad[64];
	aad_for(id, aad, sizeof aad);
	if (RAND_bytes(out, NONCE_LEN) != 1)
		return -1;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, f = 0,
	    ok = ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, out) == 1 &&
	         EVP_EncryptUpdate(ctx, NULL, &n, (unsigned char *)aad, (int)strlen(aad)) == 1 &&
	         EVP_EncryptUpdate(ctx, out + NONCE_LEN, &n, plain, plain_len) == 1 &&
	         EVP_EncryptFinal_ex(ctx, out + NONCE_LEN + n, &f) == 1 &&
	         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + NONCE_LEN + n + f) ==
	             1;
	EVP_CIPHER_CTX_free(ctx);
	*out_len = NONCE_LEN + n + f + TAG_LEN;
	return ok ? 0 : -1;
}

int ks_unseal(const unsigned char *key, int64_t id, const unsigned char *blob, int blob_len,
              unsigned char *plain, int *plain_len)
{
	if (blob_len < NONCE_LEN + TAG_LEN + 1)
		return -1;
	char aad[64];
	aad_for(id, aad, sizeof aad);
	int clen = blob_len - NONCE_LEN - TAG_LEN, n = 0, f = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int ok = ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, blob) == 1 &&
	         EVP_DecryptUpdate(ctx, NULL, &n, (unsigned char *)aad, (int)strlen(aad)) == 1 &&
	         EVP_DecryptUpdate(ctx, plain, &n, blob + NONCE_LEN, clen) == 1 &&
	         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
	                             (void *)(blob + NONCE_LEN + clen)) == 1 &&
	         EVP_DecryptFinal_ex(ctx, plain + n, &f) == 1;
	EVP_CIPHER_CTX_free(ctx);
	*plain_len = n + f;
	return ok ? 0 : -1;
}
