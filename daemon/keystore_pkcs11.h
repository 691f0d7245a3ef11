/* The keystore's `pkcs11` backend: keys generated on a PKCS#11 token as
 * sensitive and never extractable, used through libp11. The daemon holds a
 * logged-in read/write session for its lifetime; signing calls the token. */
#ifndef CSOD_KEYSTORE_PKCS11_H
#define CSOD_KEYSTORE_PKCS11_H

#include <stddef.h>

#include <openssl/evp.h>

#include "../lib/error.h"

typedef struct csod_token csod_token;

/* Loads module, finds the token labelled label and logs in with the PIN
 * read from pin_file (which group and others must not be able to read).
 * label may be a pkcs11: URI (its token and slot attributes must match one
 * token); module NULL means the URI's module-path, else the p11-kit proxy. */
csod_token *csod_token_open(const char *module, const char *label, const char *pin_file,
                            csod_error *err);
void csod_token_close(csod_token *t);

/* Generates an RSA key pair of bits on the token under the CKA_ID id. */
int csod_token_generate(csod_token *t, int bits, const unsigned char *id, size_t id_len,
                        const char *key_label, csod_error *err);

/* The token's private key with CKA_ID id (a handle: its operations run on
 * the token). */
EVP_PKEY *csod_token_key(csod_token *t, const unsigned char *id, size_t id_len, csod_error *err);

/* Makes the module read the token's objects again (a search on a fresh
 * session). SoftHSM2 notes other processes' writes by a counter in the
 * token's directory that its own next write overwrites: a process that
 * writes a key without having looked since another wrote one never sees
 * that one. Called before a key is made, under the cluster's write lock. */
void csod_token_refresh(csod_token *t);

/* Removes the key pair with CKA_ID id from the token (a key made for a row
 * that was then not recorded, or lost a race): no object outlives its row,
 * whose id a later key may get again. */
int csod_token_remove(csod_token *t, const unsigned char *id, size_t id_len);

const char *csod_token_label(const csod_token *t);

#endif
