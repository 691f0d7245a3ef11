/* The APK Signing Block with APK Signature Scheme v2 and v3 signers:
 * building the block over the content digest (apk_digest.h), and checking
 * one. */
#ifndef CSOD_APK_BLOCK_H
#define CSOD_APK_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../java/bytebuf.h"
#include "../java/zip_read.h"
#include "../signer.h"
#include "apk_digest.h"

#define CSOD_APK_V2_ID      0x7109871au
#define CSOD_APK_V3_ID      0xf05368c0u
#define CSOD_APK_STRIP_ATTR 0xbeeff00du /* v2 attribute: "v3 was also here" */
#define CSOD_APK_V3_MIN_SDK 28u
#define CSOD_APK_V3_MAX_SDK 0x7fffffffu

/* The signature algorithm ID for the key (RSA PKCS#1 v1.5 or ECDSA, both
 * with SHA-256), or 0 when the key type has none. */
uint32_t csod_apk_sig_alg(EVP_PKEY *key);

/* The whole APK Signing Block carrying a v2 and a v3 signer over digest. */
int csod_apk_build_block(const unsigned char digest[CSOD_APK_SHA256_BYTES], const csod_identity *id,
                         csod_buf *block, csod_error *err);

/* Sees the bytes of the entries section as the check reads them, in order
 * with their file offsets, so that other checks need not read them again. */
typedef struct csod_apk_seen {
	int (*fn)(void *ctx, uint64_t off, const unsigned char *data, size_t len, csod_error *err);
	void *ctx;
} csod_apk_seen;

/* Checks the v2 and v3 signers in z's signing block against the archive's
 * actual content, read once from the file (seen, if not NULL, sees the
 * entries as they are read); the signer's certificate must chain to trust. */
int csod_apk_verify_block(const csod_zip *z, X509_STORE *trust, const csod_apk_seen *seen,
                          csod_error *err);

#endif
