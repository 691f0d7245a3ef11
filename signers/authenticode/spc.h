/* Authenticode's PKCS#7: the SpcIndirectDataContent that carries the image
 * hash, the signed attributes Windows expects (contentType,
 * SpcSpOpusInfo, SpcStatementType, messageDigest), nested signatures and
 * our own verification of all that. Shared by the PE, CAB and MSI engines. */
#ifndef CSOD_SPC_H
#define CSOD_SPC_H

#include <stddef.h>

#include <openssl/pkcs7.h>

#include "../signer.h"

#define SPC_PE_IMAGE_DATA    "1.3.6.1.4.1.311.2.1.15"
#define SPC_SIPINFO          "1.3.6.1.4.1.311.2.1.30"
#define SPC_CAB_DATA         "1.3.6.1.4.1.311.2.1.25"
#define SPC_NESTED_SIGNATURE "1.3.6.1.4.1.311.2.4.1"
#define SPC_CTL              "1.3.6.1.4.1.311.10.1" /* szOID_CTL: a catalog's content */

/* The SpcAttributeTypeAndOptionalValue of an SpcIndirectDataContent: what
 * kind of file was hashed (the OID) and the DER value that goes with it. */
typedef struct csod_spc_data {
	const char *oid;
	unsigned char value[256];
	size_t value_len;
} csod_spc_data;

/* DER of SpcPeImageData (PE) and of the SpcLink file "<<<Obsolete>>>"
 * (what CAB signatures carry); 0 if cap is too small. */
size_t csod_spc_pe_image_data(unsigned char *out, size_t cap);
size_t csod_spc_obsolete_link(unsigned char *out, size_t cap);

/* The most an image hash may be: the digest, or for MSIX/APPX a blob of
 * several digests ("APPX" and five tagged hashes). */
#define CSOD_SPC_MAX_IMAGE_HASH 512

/* The container's image hash for md, computed by the engine into out
 * (room for CSOD_SPC_MAX_IMAGE_HASH bytes). */
typedef int (*csod_spc_hash_fn)(void *ctx, const EVP_MD *md, unsigned char *out, unsigned *out_len,
                                csod_error *err);

/* The image hashes an engine computes in one read of the file, one per
 * digest a signing asks for, then hands to csod_spc_sign_digests through
 * csod_spc_precomputed_hash. */
typedef struct csod_spc_hashes {
	int n;
	const EVP_MD *md[CSOD_MAX_DIGESTS];
	unsigned char value[CSOD_MAX_DIGESTS][EVP_MAX_MD_SIZE];
	unsigned len[CSOD_MAX_DIGESTS];
} csod_spc_hashes;

/* Sets h->n and h->md to the digests opt asks for (sha256 when none). */
int csod_spc_hashes_for(const csod_sign_options *opt, csod_spc_hashes *h, csod_error *err);

/* A csod_spc_hash_fn over a csod_spc_hashes (ctx). */
int csod_spc_precomputed_hash(void *ctx, const EVP_MD *md, unsigned char *out, unsigned *out_len,
                              csod_error *err);

/* Every signature a signing asks for: one per digest in opt (sha256 when
 * none), each timestamped when opt has a TSA. The first digest's is the
 * primary and the others nest in it; when existing is given (append), it
 * stays primary and ours all nest in it. On failure the caller still owns
 * existing. */
PKCS7 *csod_spc_sign_digests(const csod_identity *id, const csod_sign_options *opt,
                             const csod_spc_data *type, PKCS7 *existing, csod_spc_hash_fn hash,
                             void *ctx, csod_error *err);

/* One signature with md, not yet timestamped, for csod_spc_sign_each. */
typedef PKCS7 *(*csod_spc_sign_fn)(void *ctx, const EVP_MD *md, csod_error *err);

/* What csod_spc_sign_digests does, for any content: sign() once per digest
 * in opt (sha256 when none), each timestamped when opt has a TSA, the
 * first primary and the others nested in it (in existing, when given). */
PKCS7 *csod_spc_sign_each(const csod_sign_options *opt, PKCS7 *existing, csod_spc_sign_fn sign,
                          void *ctx, csod_error *err);

/* A signature (PKCS#7 SignedData, one signer) whose encapsulated content,
 * of type content_oid, is the DER value content: signed attributes
 * contentType, SpcSpOpusInfo, SpcStatementType, messageDigest (over the
 * content's value without its header, as Authenticode has it) and, with
 * signing_time, the signing time. */
PKCS7 *csod_spc_sign_content(const csod_identity *id, const csod_sign_options *opt,
                             const char *content_oid, const unsigned char *content,
                             size_t content_len, const EVP_MD *md, int signing_time,
                             csod_error *err);

/* csod_spc_sign_digests for a file its SIP hashes (SpcSipInfo, whose DER
 * is sip), encoded: the DER in *out (OPENSSL_free it), its length
 * returned, or -1. existing is taken over on success only. */
int csod_spc_sign_sip_der(const csod_identity *id, const csod_sign_options *opt,
                          const unsigned char *sip, size_t sip_len, PKCS7 *existing,
                          csod_spc_hash_fn hash, void *ctx, unsigned char **out, csod_error *err);

/* Nests inner inside outer (unsigned attribute 1.3.6.1.4.1.311.2.4.1). */
int csod_spc_nest(PKCS7 *outer, PKCS7 *inner, csod_error *err);

/* Adds a timestamp to p7's signer info from the first TSA in opt that
 * gives one (spc_timestamp.c): an RFC 3161 token as the counter-signature
 * Windows 7 and later read (unsigned attribute 1.3.6.1.4.1.311.3.3.1), or
 * with opt->timestamp.legacy the legacy Authenticode one (a PKCS#9
 * counterSignature, 1.2.840.113549.1.9.6, with the TSA's certificates added
 * to p7). Without a stamp and none required, leaves p7 as it is. */
int csod_spc_timestamp(PKCS7 *p7, const csod_sign_options *opt, csod_error *err);

/* OpenSSL knows the Authenticode OIDs only by number: the NID of oid,
 * registered on first use. */
int csod_spc_nid(const char *oid);
/* An attribute value holding DER that OpenSSL encoded (a token, a signer
 * info, an SpcSpOpusInfo), as a SEQUENCE the attribute carries as it is. */
ASN1_STRING *csod_spc_sequence_of(const unsigned char *der_bytes, size_t len);

/* The length of the tag and length octets of the DER value at encoded. */
size_t csod_spc_header_len(const unsigned char *encoded);

/* The container's check of a signature's image hash: md and digest are
 * what the signature claims; fails unless the file's hash is that. */
typedef int (*csod_spc_check_fn)(void *ctx, const EVP_MD *md, const unsigned char *digest,
                                 size_t len, csod_error *err);

/* The self-check of a file's Authenticode signatures. A file may carry
 * signatures that are not ours (--nest onto a vendor's, Microsoft's or
 * Debian's): each signature whose certificate chains to trust is checked
 * in full (check() on its image hash, messageDigest over the
 * SpcIndirectDataContent, the signature over the signed attributes);
 * every other one only for structure (it parses, holds one signer with its
 * certificate, and names digests we know with a hash of the right size),
 * since its roots are not ours to judge. At least one must be checked in
 * full (csod_spc_checker_done). */
typedef struct csod_spc_checker {
	X509_STORE *trust;
	csod_spc_check_fn check;
	/* Optional, set after init: the check of a signature whose content is
	 * a trust list (SPC_CTL, a catalog's) rather than an image hash: the
	 * content's DER as signed. Without it such a signature is refused. */
	int (*check_content)(void *ctx, const unsigned char *content, size_t len, csod_error *err);
	void *ctx;
	int checked;    /* signatures checked in full */
	int blob;       /* the image hash is the format's blob (MSIX), not one digest:
	                 * its length is check()'s to judge */
	csod_error why; /* why the last one that did not chain did not */
} csod_spc_checker;

void csod_spc_checker_init(csod_spc_checker *c, X509_STORE *trust, csod_spc_check_fn check,
                           void *ctx);

/* One signature and every signature nested in it. */
int csod_spc_check(csod_spc_checker *c, PKCS7 *p7, csod_error *err);

/* Fails, saying why, unless some signature was checked in full. */
int csod_spc_checker_done(const csod_spc_checker *c, csod_error *err);

/* 1 if p7's SpcIndirectDataContent names SpcSipInfo with exactly this
 * value (the SIP of a kind of file: MSI, script, package), else 0. */
int csod_spc_names_sip(PKCS7 *p7, const unsigned char *sip, size_t sip_len);

/* The digest and hash a signature's SpcIndirectDataContent claims for the
 * file (digest holds EVP_MAX_MD_SIZE), for structure only: nothing is
 * verified. */
int csod_spc_claimed_hash(PKCS7 *p7, const EVP_MD **md, unsigned char *digest, size_t *len,
                          csod_error *err);

/* init, csod_spc_check of p7, done. */
int csod_spc_verify(PKCS7 *p7, X509_STORE *trust, csod_spc_check_fn check, void *ctx,
                    csod_error *err);

#endif
