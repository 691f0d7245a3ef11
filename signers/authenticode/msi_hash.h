/* The Authenticode hash of an MSI (a compound file), as Windows and
 * osslsigncode compute it. */
#ifndef CSOD_MSI_HASH_H
#define CSOD_MSI_HASH_H

#include <openssl/evp.h>

#include "cfb.h"

/* Names, UTF-16LE with their NUL, of the two signature streams in the root
 * storage; neither is covered by the hash. */
extern const unsigned char csod_msi_signature_name[36];
extern const unsigned char csod_msi_signature_ex_name[46];

/* The metadata pre-hash that MsiDigitalSignatureEx holds: names, sizes,
 * state bits and times of every entry in the same order. */
int csod_msi_prehash(const csod_cfb *c, const EVP_MD *md, unsigned char *out, unsigned *len,
                     csod_error *err);

/* The hash signed in the SpcIndirectDataContent: every stream's content in
 * sort order storage by storage, each storage's CLSID after its children;
 * preceded by the pre-hash when prehash is not NULL (files carrying
 * MsiDigitalSignatureEx). */
int csod_msi_hash(const csod_cfb *c, const EVP_MD *md, const unsigned char *prehash,
                  size_t prehash_len, unsigned char *out, unsigned *len, csod_error *err);

#endif
