/* The database keystore's cryptography: the master key file, the sealing
 * key derived from it, AES-256-GCM sealing of PKCS#8 blobs bound to their
 * row, and scratch memory for plaintext keys (undumpable, cleansed).
 * Internal to keystore*.c. */
#ifndef CSOD_KEYSTORE_SEAL_H
#define CSOD_KEYSTORE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include <limits.h>

#include <openssl/evp.h>

#include "../lib/error.h"
#include "db.h"
#include "keystore_pkcs11.h"

#define MASTER_LEN 32
#define NONCE_LEN  12
#define TAG_LEN    16

/* A master key and the sealing key derived from it, in one locked page
 * that is kept out of core dumps and cleansed when freed. */
typedef struct ks_sealer {
	unsigned char *page;
	unsigned char *master;
	unsigned char *key;
} ks_sealer;

#define KS_CACHE_SLOTS 32

struct csod_keystore {
	csod_db *db;
	char master_path[PATH_MAX];
	int has_master;
	ks_sealer master;
	csod_token *token; /* the pkcs11 backend; NULL for database */
	/* Keys already unsealed, by id: a key never changes under its id, and
	 * unsealing and decoding it costs more than the signature itself.
	 * Their private parts live in OpenSSL's secure heap when csodd set
	 * one up (main.c). */
	struct {
		int64_t id;
		EVP_PKEY *key;
	} cache[KS_CACHE_SLOTS];
	unsigned cache_next;
};

/* Reads the master key file at path into s (creating it, mode 0400, when
 * create and it is missing) and derives the sealing key. Refuses a file that
 * group or others may access, or of the wrong length. */
int ks_sealer_load(ks_sealer *s, const char *path, int create, csod_error *err);
void ks_sealer_free(ks_sealer *s);

/* Writes a fresh random master key to path, which must not exist. */
int ks_create_master(const char *path, csod_error *err);

/* Scratch for plaintext key bytes: whole pages, kept out of core dumps,
 * cleansed before they are freed. */
unsigned char *ks_secure_alloc(size_t len);
void ks_secure_free(unsigned char *p, size_t len);

/* out needs plain_len + NONCE_LEN + TAG_LEN bytes. */
int ks_seal(const unsigned char *key, int64_t id, const unsigned char *plain, int plain_len,
            unsigned char *out, int *out_len);
/* plain needs blob_len bytes. */
int ks_unseal(const unsigned char *key, int64_t id, const unsigned char *blob, int blob_len,
              unsigned char *plain, int *plain_len);

#endif
