/* csod-sign --extract-signature and --attach-signature: detached
 * signatures for reproducible builds, through the engines' hooks. */
#ifndef CSOD_SIGN_DETACHED_H
#define CSOD_SIGN_DETACHED_H

#include "../../signers/signer.h"

/* Writes the signature of the signed file in_path to out_path. */
int csod_extract_to(const char *service, const char *in_path, const char *out_path, int sync,
                    csod_error *err);

/* Writes in_path with the signature in sig_path (DER or PEM PKCS#7) to
 * out_path; unless trust is NULL, only once the result verifies against
 * it (a signature made for another file does not). */
int csod_attach_to(const char *service, const char *sig_path, const char *in_path,
                   const char *out_path, X509_STORE *trust, int sync, csod_error *err);

#endif
