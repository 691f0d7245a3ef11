/* JAR signing ("v1" in Android's words), shared by the jar and apk
 * engines: the manifest with per-entry digests, the signature file
 * <ALIAS>.SF and the PKCS#7 signature block <ALIAS>.RSA/.EC/.DSA. */
#ifndef CSOD_V1_H
#define CSOD_V1_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../signer.h"
#include "bytebuf.h"
#include "manifest.h"
#include "mdset.h"
#include "zip_read.h"

#define CSOD_V1_MAX_MD CSOD_MDSET_MAX

typedef struct csod_v1_config {
	const EVP_MD *md[CSOD_MAX_DIGESTS]; /* entry and section digests */
	int n_md;
	const EVP_MD *sig_md; /* PKCS#7 signature digest */
	char alias[65];       /* upper case, [A-Z0-9_-] */
	int append;           /* keep other signers */
	int android;          /* add X-Android-APK-Signed: 2, 3 */
	/* RFC 3161 timestamp of the signature block's signature, as jarsigner
	 * -tsa adds it; none without URLs. */
	csod_timestamp_options timestamp;
} csod_v1_config;

typedef struct csod_v1_result {
	csod_buf manifest, sf, block;
	char sf_name[96], block_name[96];
	unsigned char *drop; /* per input entry: 1 if it is not copied */
} csod_v1_result;

/* Fills c from the engine options (digests, alias, append, timestamp). */
int csod_v1_config_from(csod_v1_config *c, const csod_sign_options *opt, csod_error *err);

/* Reads every entry of z once and builds the three signing files; r->drop
 * says which input entries the output leaves out (the old manifest, and
 * other signers' files unless appending). */
int csod_v1_build(const csod_zip *z, const csod_identity *id, const csod_v1_config *c,
                  csod_v1_result *r, csod_error *err);
void csod_v1_result_free(csod_v1_result *r);

/* csod_v1_build in steps, for a caller that reads the entries itself (the
 * apk engine digests each entry while copying it): begin reads the old
 * manifest and chooses r->drop; for each entry csod_v1_signs says is
 * signed, compute the digests csod_v1_entry_mds names over its content and
 * hand them to csod_v1_record; finish builds the three files. abort (or
 * finish) frees the builder. */
typedef struct csod_v1_builder {
	const csod_v1_config *c;
	csod_v1_result *r;
	csod_manifest mf;
	int mf_ready;
} csod_v1_builder;

int csod_v1_begin(csod_v1_builder *b, const csod_zip *z, const csod_v1_config *c, csod_v1_result *r,
                  csod_error *err);
int csod_v1_signs(const csod_v1_builder *b, const csod_zip *z, size_t i);
/* Ours first, then (appending) the ones the old section has, with their
 * values in have[] from index c->n_md on. */
int csod_v1_entry_mds(csod_v1_builder *b, const char *name, const EVP_MD **mds, const char **have);
int csod_v1_record(csod_v1_builder *b, const char *name, const EVP_MD *const *mds,
                   const char *const *have, int n, unsigned char d[][EVP_MAX_MD_SIZE],
                   csod_error *err);
int csod_v1_finish(csod_v1_builder *b, const csod_identity *id, csod_error *err);
void csod_v1_abort(csod_v1_builder *b);

/* Checks every signer of a signed archive (manifest digests of each entry,
 * .SF digests, PKCS#7 signature); at least one must chain to trust, and
 * every entry must be signed by one as jarsigner judges it: the signer's
 * .SF names the entry's manifest section and covers it, and the section
 * holds a digest of the entry in an algorithm that .SF uses, or SHA-256 or
 * stronger (csod_v1_md_strong). want_android: a signer must carry
 * X-Android-APK-Signed. */
int csod_v1_verify(const csod_zip *z, X509_STORE *trust, int want_android, csod_error *err);

/* csod_v1_verify in steps, for a caller that reads the entries itself (the
 * apk self-check digests each entry in its one pass over the output):
 * open reads the manifest; for each entry csod_v1_checker_needs names,
 * start, feed its content to csod_mdset_feed(&ch->set), end compares with
 * the manifest; signers checks each .SF and its PKCS#7 block, then that
 * a trusted signer signs every entry. */
typedef struct csod_v1_checker {
	csod_manifest mf;
	unsigned char *mf_bytes;
	size_t mf_len;
	int mf_ready;
	csod_mdset set;
	const csod_zip_entry *entry;
	const EVP_MD *md[CSOD_MAX_DIGESTS];
	const char *want[CSOD_MAX_DIGESTS];
	int n;
	unsigned char *signed_section; /* per manifest section: a trusted signer signs it */
} csod_v1_checker;

int csod_v1_checker_open(csod_v1_checker *ch, const csod_zip *z, csod_error *err);
int csod_v1_checker_needs(const csod_zip_entry *e);
int csod_v1_checker_start(csod_v1_checker *ch, const csod_zip_entry *e, csod_error *err);
int csod_v1_checker_end(csod_v1_checker *ch, csod_error *err);
int csod_v1_checker_signers(csod_v1_checker *ch, const csod_zip *z, X509_STORE *trust,
                            int want_android, csod_error *err);
void csod_v1_checker_close(csod_v1_checker *ch);

/* META-INF/MANIFEST.MF, the .SF .RSA .DSA .EC and SIG-* files in META-INF, as the
 * JDK decides (case-insensitive, top level of META-INF only). */
int csod_v1_signature_related(const char *name);

/* The digest of an attribute named "<ALG><suffix>" (e.g. "SHA-256" +
 * "-Digest"), for SHA1, SHA-1, SHA-256, SHA-384, SHA-512; else NULL. */
const EVP_MD *csod_v1_md_for_attr(const char *attr, const char *suffix);

/* SHA-256 or stronger: a manifest digest the JDK's default policy accepts
 * from any signer (it treats SHA-1 ones as unsigned). */
int csod_v1_md_strong(const EVP_MD *md);

/* "SHA-256" style name used in digest attributes, or NULL. */
const char *csod_v1_md_attr_name(const EVP_MD *md);

/* Base64 of data (no newlines) into out (at least 4*ceil(len/3)+1). */
void csod_v1_b64(const unsigned char *data, size_t len, char *out);

#endif
