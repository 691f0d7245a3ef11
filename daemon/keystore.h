/* Private keys at rest. The `database` backend keeps each key as PKCS#8
 * DER sealed with AES-256-GCM under a key derived from the master key file;
 * plaintext key bytes exist only in memory that is cleansed after use and
 * kept out of core dumps. */
#ifndef CSOD_KEYSTORE_H
#define CSOD_KEYSTORE_H

#include <stdint.h>

#include <openssl/evp.h>

#include "config.h"
#include "db.h"

typedef struct csod_keystore csod_keystore;

/* Reads (or on first start creates, mode 0400) the master key file; refuses
 * one that group or others may read, or of the wrong length. */
csod_keystore *csod_keystore_open(const csod_config *cfg, const char *spool, csod_db *db,
                                  csod_error *err);
void csod_keystore_close(csod_keystore *ks);

/* Generates a key ("rsa" with bits 2048/3072/4096, or "ec" with 256/384),
 * stores it sealed, returns its id and (if out) the key itself. */
int64_t csod_keystore_generate(csod_keystore *ks, const char *algorithm, int bits, EVP_PKEY **out,
                               csod_error *err);

/* Unseals key id. */
EVP_PKEY *csod_keystore_load(csod_keystore *ks, int64_t id, csod_error *err);

#endif
