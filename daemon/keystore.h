/* Private keys at rest, behind one interface for both backends. The
 * `database` backend keeps each key as PKCS#8 DER sealed with AES-256-GCM
 * under a key derived from the master key file; plaintext key bytes exist
 * only in memory that is cleansed after use and kept out of core dumps. The
 * `pkcs11` backend generates keys on a token, sensitive and never
 * extractable; the database then holds only the key's name. */
#ifndef CSOD_KEYSTORE_H
#define CSOD_KEYSTORE_H

#include <stdint.h>

#include <openssl/evp.h>

#include "config.h"
#include "db.h"

typedef struct csod_keystore csod_keystore;

/* Reads (or on first start creates, mode 0400) the master key file; refuses
 * one that group or others may read, or of the wrong length. With the
 * pkcs11 backend, loads the module and logs in to the token instead. */
csod_keystore *csod_keystore_open(const csod_config *cfg, const char *spool, csod_db *db,
                                  csod_error *err);
void csod_keystore_close(csod_keystore *ks);

/* Generates a key ("rsa" with bits 2048/3072/4096, or "ec" with 256/384),
 * stores it sealed, returns its id and (if out) the key itself. */
int64_t csod_keystore_generate(csod_keystore *ks, const char *algorithm, int bits, EVP_PKEY **out,
                               csod_error *err);

/* Removes key id, made but not used (the local CA's key of a node that
 * lost the race to record its CA): its row, and with the pkcs11 backend
 * its objects on the token, so that the token holds only keys in use. */
void csod_keystore_discard(csod_keystore *ks, int64_t id);

/* Unseals key id (or finds it on the token). */
EVP_PKEY *csod_keystore_load(csod_keystore *ks, int64_t id, csod_error *err);

/* Re-encrypts every database key under a fresh master key: the new key is
 * written to "<master_key_file>.new", every blob is resealed in one SQLite
 * transaction, then the new file is renamed over the old one. The caller
 * holds csodd's lock (the daemon is not running). *count receives the number
 * of keys resealed. */
int csod_keystore_rotate_master(const csod_config *cfg, const char *spool, csod_db *db, int *count,
                                csod_error *err);

/* Finishes a rotation a crash interrupted: if "<master_path>.new" exists and
 * opens the database's keys, the transaction committed and the file is
 * renamed into place; otherwise it never did and the file is removed. */
int csod_keystore_recover_rotation(csod_db *db, const char *master_path, csod_error *err);

#endif
