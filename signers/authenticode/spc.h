/* Authenticode's PKCS#7: the SpcIndirectDataContent that carries the image
 * hash, the signed attributes Windows expects (contentType,
 * SpcSpOpusInfo, SpcStatementType, messageDigest), nested signatures and
 * our own verification of all that. Shared by the PE, CAB and MSI engines. */
#ifndef CSOD_SPC_H
#define CSOD_SPC_H

#include <stddef.h>

#include <openssl/pkcs7.h>

#include "../signer.h"

#define SPC_PE_IMAGE_DATA "1.3.6.1.4.1.311.2.1.15"
#define SPC_SIPINFO       "1.3.6.1.4.1.311.2.1.30"
#define SPC_CAB_DATA      "1.3.6.1.4.1.311.2.1.25"

/* The SpcAttributeTypeAndOptionalValue of an SpcIndirectDataContent: what
 * kind of file was hashed (the OID) and the DER value that goes with it. */
typedef struct csod_spc_data {
	const char *oid;
	unsigned char value[256];
	size_t value_len;
} csod_spc_data;

/* DER of SpcPeImageData (PE) and of the SpcLink file "<<<Obsolete>>>"
 * (what CAB signatures carry); 0 if cap is too small. The MSI SpcSipInfo
 * is built in msi.c. */
size_t csod_spc_pe_image_data(unsigned char *out, size_t cap);
size_t csod_spc_obsolete_link(unsigned char *out, size_t cap);

/* A signed PKCS#7 over an SpcIndirectDataContent whose data is of
 * data_type with the DER value data_value, and whose digest (of md) is
 * image_hash. */
PKCS7 *csod_spc_sign(const csod_identity *id, const csod_sign_options *opt, const EVP_MD *md,
                     const unsigned char *image_hash, size_t hash_len, csod_error *err);

/* The same for any container: CAB and MSI pass their own data type. */
PKCS7 *csod_spc_sign_data(const csod_identity *id, const csod_sign_options *opt,
                          const csod_spc_data *type, const EVP_MD *md,
                          const unsigned char *image_hash, size_t hash_len, csod_error *err);

/* Computes the container's hash of md into digest (*len bytes). */
typedef int (*csod_spc_hash_fn)(void *ctx, const EVP_MD *md, unsigned char *digest, unsigned *len,
                                csod_error *err);

/* The signature for every digest of opt (sha256 when none): the first is
 * primary and the others nest in it; when existing is not NULL it stays
 * primary and ours all nest in it (then it belongs to the result). On
 * failure the caller still owns existing. Timestamps each when
 * opt->timestamp_url is set. */
PKCS7 *csod_spc_sign_digests(const csod_identity *id, const csod_sign_options *opt,
                             const csod_spc_data *type, PKCS7 *existing, csod_spc_hash_fn hash,
                             void *ctx, csod_error *err);

/* Nests inner inside outer (unsigned attribute 1.3.6.1.4.1.311.2.4.1). */
int csod_spc_nest(PKCS7 *outer, PKCS7 *inner, csod_error *err);

/* Adds an RFC 3161 timestamp as the counter-signature Windows reads
 * (unsigned attribute 1.3.6.1.4.1.311.3.3.1). */
int csod_spc_timestamp(PKCS7 *p7, const csod_sign_options *opt, csod_error *err);

/* Checks the signature (and every nested one): the signed attributes, that
 * messageDigest covers the SpcIndirectDataContent, the chain up to trust.
 * For each signature, calls check(md, digest) so the container can compare
 * the image hash it recomputes. */
int csod_spc_verify(PKCS7 *p7, X509_STORE *trust,
                    int (*check)(void *ctx, const EVP_MD *md, const unsigned char *digest,
                                 size_t len, csod_error *err),
                    void *ctx, csod_error *err);

#endif
