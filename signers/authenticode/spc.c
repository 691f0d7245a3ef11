#include "spc.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "../common/timestamp.h"
#include "spc_asn1.h"
#include "spc_opus.h"

#define SPC_INDIRECT_DATA  "1.3.6.1.4.1.311.2.1.4"
#define SPC_STATEMENT_TYPE "1.3.6.1.4.1.311.2.1.11"
#define SPC_SP_OPUS_INFO   "1.3.6.1.4.1.311.2.1.12"
#define SPC_RFC3161        "1.3.6.1.4.1.311.3.3.1"

/* Copies the DER an encoder made into out; 0 (nothing written) when it
 * failed or does not fit in cap. */
static size_t copy_encoded(int (*encode)(unsigned char **), unsigned char *out, size_t cap)
{
	unsigned char *der = NULL;
	int n = encode(&der);
	size_t len = n > 0 && (size_t)n <= cap ? (size_t)n : 0;
	if (len)
		memcpy(out, der, len);
	OPENSSL_free(der);
	return len;
}

size_t csod_spc_pe_image_data(unsigned char *out, size_t cap)
{
	return copy_encoded(csod_spc_encode_pe_image_data, out, cap);
}

size_t csod_spc_obsolete_link(unsigned char *out, size_t cap)
{
	return copy_encoded(csod_spc_encode_obsolete_link, out, cap);
}

size_t csod_spc_header_len(const unsigned char *encoded)
{
	return encoded[1] < 0x80 ? 2 : 2 + (size_t)(encoded[1] & 0x7f);
}

int csod_spc_nid(const char *oid)
{
	int nid = OBJ_txt2nid(oid);
	return nid != NID_undef ? nid : OBJ_create(oid, NULL, NULL);
}

static int add_attr(PKCS7_SIGNER_INFO *si, int is_signed, const char *oid, int type, void *value)
{
	int nid = csod_spc_nid(oid);
	return is_signed ? PKCS7_add_signed_attribute(si, nid, type, value)
	                 : PKCS7_add_attribute(si, nid, type, value);
}

ASN1_STRING *csod_spc_sequence_of(const unsigned char *der_bytes, size_t len)
{
	ASN1_STRING *s = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
	if (s && !ASN1_STRING_set(s, der_bytes, (int)len)) {
		ASN1_STRING_free(s);
		return NULL;
	}
	return s;
}

/* A signed PKCS#7 over an SpcIndirectDataContent of the given data type
 * whose digest (of md) is image_hash. */
static PKCS7 *sign_data(const csod_identity *id, const csod_sign_options *opt,
                        const csod_spc_data *type, const EVP_MD *md,
                        const unsigned char *image_hash, size_t hash_len, csod_error *err)
{
	unsigned char *content = NULL;
	/* Encoded whole, or the signing fails: nothing is cut. */
	int content_len =
	    type->value_len ? csod_spc_encode_indirect_data(type->oid, type->value, type->value_len,
	                                                    md, image_hash, hash_len, &content)
	                    : -1;
	if (content_len < 0)
		return csod_fail_ssl(err, "cannot encode the Authenticode content"), NULL;
	PKCS7 *p7 = csod_spc_sign_content(id, opt, SPC_INDIRECT_DATA, content, (size_t)content_len,
	                                  md, 0, err);
	OPENSSL_free(content);
	return p7;
}

PKCS7 *csod_spc_sign_content(const csod_identity *id, const csod_sign_options *opt,
                             const char *content_oid, const unsigned char *content,
                             size_t content_len, const EVP_MD *md, int signing_time,
                             csod_error *err)
{
	unsigned char *opus = NULL, *statement = NULL;
	int opus_len = csod_spc_opus_info(opt->description, opt->url, &opus, err);
	if (opus_len < 0)
		return NULL;
	int statement_len = csod_spc_encode_statement_individual(&statement);
	if (statement_len < 0) {
		OPENSSL_free(opus);
		return csod_fail_ssl(err, "cannot encode the statement type"), NULL;
	}
	/* messageDigest covers the content's value, without its SEQUENCE header. */
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned digest_len = 0;
	size_t h = csod_spc_header_len(content);
	EVP_Digest(content + h, content_len - h, digest, &digest_len, md, NULL);

	PKCS7 *p7 = PKCS7_new();
	PKCS7 *inner = PKCS7_new();
	PKCS7_SIGNER_INFO *si = NULL;
	ASN1_OCTET_STRING *md_value = ASN1_OCTET_STRING_new();
	ASN1_TYPE *value = ASN1_TYPE_new();
	int ok = p7 && inner && md_value && value && PKCS7_set_type(p7, NID_pkcs7_signed) &&
	         (si = PKCS7_add_signature(p7, id->cert, id->key, md)) &&
	         PKCS7_add_certificate(p7, id->cert);
	for (int i = 0; ok && id->chain && i < sk_X509_num(id->chain); i++)
		ok = PKCS7_add_certificate(p7, sk_X509_value(id->chain, i));
	ok = ok &&
	     PKCS7_add_signed_attribute(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
	                                OBJ_txt2obj(content_oid, 1)) &&
	     (!signing_time || PKCS7_add0_attrib_signing_time(si, NULL)) &&
	     add_attr(si, 1, SPC_SP_OPUS_INFO, V_ASN1_SEQUENCE,
	              csod_spc_sequence_of(opus, (size_t)opus_len)) &&
	     add_attr(si, 1, SPC_STATEMENT_TYPE, V_ASN1_SEQUENCE,
	              csod_spc_sequence_of(statement, (size_t)statement_len)) &&
	     ASN1_OCTET_STRING_set(md_value, digest, (int)digest_len) &&
	     PKCS7_add_signed_attribute(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING,
	                                md_value) &&
	     PKCS7_SIGNER_INFO_sign(si) > 0;
	if (ok) {
		md_value = NULL; /* owned by the attribute now */
		inner->type = OBJ_txt2obj(content_oid, 1);
		ASN1_TYPE_set(value, V_ASN1_SEQUENCE, csod_spc_sequence_of(content, content_len));
		inner->d.other = value;
		value = NULL;
		ok = PKCS7_set_content(p7, inner);
		if (ok)
			inner = NULL;
	}
	ASN1_OCTET_STRING_free(md_value);
	ASN1_TYPE_free(value);
	PKCS7_free(inner);
	OPENSSL_free(opus);
	OPENSSL_free(statement);
	if (!ok) {
		csod_fail_ssl(err, "cannot build the Authenticode signature");
		PKCS7_free(p7);
		return NULL;
	}
	return p7;
}

/* Every nested signature is one more value of a single nested-signature
 * attribute: adding the attribute again would replace the earlier ones
 * (OpenSSL keeps one attribute per type). */
int csod_spc_nest(PKCS7 *outer, PKCS7 *inner, csod_error *err)
{
	unsigned char *der_bytes = NULL;
	int n = i2d_PKCS7(inner, &der_bytes);
	PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(outer), 0);
	int nested = csod_spc_nid(SPC_NESTED_SIGNATURE);
	X509_ATTRIBUTE *existing =
	    si ? X509at_get_attr(si->unauth_attr,
	                         X509at_get_attr_by_NID(si->unauth_attr, nested, -1))
	       : NULL;
	int ok = n > 0 && si &&
	         (existing ? X509_ATTRIBUTE_set1_data(existing, V_ASN1_SEQUENCE, der_bytes, n)
	                   : add_attr(si, 0, SPC_NESTED_SIGNATURE, V_ASN1_SEQUENCE,
	                              csod_spc_sequence_of(der_bytes, (size_t)n)));
	OPENSSL_free(der_bytes);
	return ok ? 0 : csod_fail_ssl(err, "cannot nest the signature");
}

int csod_spc_hashes_for(const csod_sign_options *opt, csod_spc_hashes *h, csod_error *err)
{
	h->n = opt->n_digests > 0 ? opt->n_digests : 1;
	for (int i = 0; i < h->n; i++) {
		const char *name = opt->n_digests ? opt->digests[i] : "sha256";
		if (!(h->md[i] = csod_digest_by_name(name)))
			return csod_fail(err, "unknown digest %s", name);
	}
	return 0;
}

int csod_spc_precomputed_hash(void *ctx, const EVP_MD *md, unsigned char *out, unsigned *out_len,
                              csod_error *err)
{
	const csod_spc_hashes *h = ctx;
	for (int i = 0; i < h->n; i++)
		if (h->md[i] == md) {
			memcpy(out, h->value[i], h->len[i]);
			*out_len = h->len[i];
			return 0;
		}
	return csod_fail(err, "no image hash for %s", EVP_MD_get0_name(md));
}

PKCS7 *csod_spc_sign_each(const csod_sign_options *opt, PKCS7 *existing, csod_spc_sign_fn sign,
                          void *ctx, csod_error *err)
{
	PKCS7 *primary = existing;
	int n = opt->n_digests > 0 ? opt->n_digests : 1;
	for (int i = 0; i < n; i++) {
		const char *name = opt->n_digests ? opt->digests[i] : "sha256";
		const EVP_MD *md = csod_digest_by_name(name);
		if (!md) {
			csod_fail(err, "unknown digest %s", name);
			goto fail;
		}
		PKCS7 *p7 = sign(ctx, md, err);
		if (!p7)
			goto fail;
		if (csod_timestamp_wanted(&opt->timestamp) &&
		    csod_spc_timestamp(p7, opt, err) < 0) {
			PKCS7_free(p7);
			goto fail;
		}
		if (!primary) {
			primary = p7;
			continue;
		}
		int rc = csod_spc_nest(primary, p7, err);
		PKCS7_free(p7);
		if (rc < 0)
			goto fail;
	}
	return primary;
fail:
	if (primary != existing)
		PKCS7_free(primary);
	return NULL;
}

/* csod_spc_sign_each's signer for csod_spc_sign_digests. */
typedef struct indirect_signing {
	const csod_identity *id;
	const csod_sign_options *opt;
	const csod_spc_data *type;
	csod_spc_hash_fn hash;
	void *ctx;
} indirect_signing;

static PKCS7 *sign_indirect(void *ctx, const EVP_MD *md, csod_error *err)
{
	const indirect_signing *s = ctx;
	unsigned char image_hash[CSOD_SPC_MAX_IMAGE_HASH];
	unsigned hash_len = 0;
	if (s->hash(s->ctx, md, image_hash, &hash_len, err) < 0)
		return NULL;
	return sign_data(s->id, s->opt, s->type, md, image_hash, hash_len, err);
}

PKCS7 *csod_spc_sign_digests(const csod_identity *id, const csod_sign_options *opt,
                             const csod_spc_data *type, PKCS7 *existing, csod_spc_hash_fn hash,
                             void *ctx, csod_error *err)
{
	indirect_signing s = {id, opt, type, hash, ctx};
	return csod_spc_sign_each(opt, existing, sign_indirect, &s, err);
}

int csod_spc_sign_sip_der(const csod_identity *id, const csod_sign_options *opt,
                          const unsigned char *sip, size_t sip_len, PKCS7 *existing,
                          csod_spc_hash_fn hash, void *ctx, unsigned char **out, csod_error *err)
{
	csod_spc_data type = {.oid = SPC_SIPINFO, .value_len = sip_len};
	*out = NULL;
	if (sip_len > sizeof type.value)
		return csod_fail(err, "the SpcSipInfo is too long");
	memcpy(type.value, sip, sip_len);
	PKCS7 *p7 = csod_spc_sign_digests(id, opt, &type, existing, hash, ctx, err);
	if (!p7)
		return -1;
	int len = i2d_PKCS7(p7, out);
	PKCS7_free(p7); /* and existing with it, if it was used */
	return len > 0 ? len : csod_fail_ssl(err, "cannot encode the signature");
}
