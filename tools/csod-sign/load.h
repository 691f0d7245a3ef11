#ifndef CSOD_SIGN_LOAD_H
#define CSOD_SIGN_LOAD_H

#include "../../signers/signer.h"

/* Fills id from PEM files: the certificate, the key, and (optional) the
 * chain (intermediates then root). */
int csod_load_identity(const char *cert_path, const char *key_spec, const char *chain_path,
                       csod_identity *id, csod_error *err);
void csod_free_identity(csod_identity *id);

/* A trust store holding the last certificate of the chain (the root), or
 * the signing certificate itself when there is no chain. */
X509_STORE *csod_trust_for(const csod_identity *id);

/* The same trust from the files alone (no key): the chain's last
 * certificate, else the certificate. */
X509_STORE *csod_trust_from_files(const char *cert_path, const char *chain_path, csod_error *err);

#endif
