/* The APK Signing Block with APK Signature Scheme v2 and v3 signers:
 * chunked SHA-256 digests (1 MB chunks over the entries, the central
 * directory and the end record), building the block, and checking one. */
#ifndef CSOD_APK_BLOCK_H
#define CSOD_APK_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../java/bytebuf.h"
#include "../java/zip_read.h"
#include "../signer.h"

#define CSOD_APK_V2_ID        0x7109871au
#define CSOD_APK_V3_ID        0xf05368c0u
#define CSOD_APK_STRIP_ATTR   0xbeeff00du /* v2 attribute: "v3 was also here" */
#define CSOD_APK_CHUNK        (1024u * 1024u)
#define CSOD_APK_V3_MIN_SDK   28u
#define CSOD_APK_V3_MAX_SDK   0x7fffffffu
#define CSOD_APK_SHA256_BYTES 32u

/* Fed the three sections in order, byte by byte as they are written; holds
 * one chunk (1 MB) and one digest per chunk, so memory stays small. */
typedef struct csod_apk_digester {
	EVP_MD_CTX *ctx;
	unsigned char *chunk;
	size_t fill;
	csod_buf digests;
	uint32_t count;
	int failed;
} csod_apk_digester;

int csod_apk_digester_init(csod_apk_digester *d);
void csod_apk_digester_feed(void *d, const unsigned char *data, size_t len);
void csod_apk_digester_end_section(csod_apk_digester *d);
int csod_apk_digester_finish(csod_apk_digester *d, unsigned char out[CSOD_APK_SHA256_BYTES]);
void csod_apk_digester_free(csod_apk_digester *d);

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
