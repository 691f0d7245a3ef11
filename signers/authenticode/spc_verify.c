/* The self-check of Authenticode signatures (spc.h): ours in full, the
 * others a file already carries for structure. Which are ours is told by
 * the roots, not by position: a signature whose certificate chains to
 * trust is checked in full wherever it sits (primary or nested), so no
 * signature under our roots escapes the full check. */
#include "spc.h"

#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/* Nested signatures are values of the primary's nested-signature
 * attribute (one level, as signtool and osslsigncode write them); a file
 * nesting deeper than this is refused rather than walked without end. */
#define MAX_NESTING 4

/* Walks the SpcIndirectDataContent for its DigestInfo: the algorithm and
 * the image hash the signer claimed. */
static int claimed_digest(const unsigned char *p, long len, const EVP_MD **md,
                          const unsigned char **digest, long *digest_len)
{
	const unsigned char *end = p + len;
	long n;
	int tag, cls;
	/* SpcIndirectDataContent SEQUENCE */
	if (ASN1_get_object(&p, &n, &tag, &cls, end - p) & 0x80 || tag != V_ASN1_SEQUENCE)
		return -1;
	/* skip SpcAttributeTypeAndOptionalValue */
	const unsigned char *q = p;
	if (ASN1_get_object(&q, &n, &tag, &cls, end - q) & 0x80 || tag != V_ASN1_SEQUENCE)
		return -1;
	q += n;
	/* DigestInfo SEQUENCE { AlgorithmIdentifier, OCTET STRING } */
	if (ASN1_get_object(&q, &n, &tag, &cls, end - q) & 0x80 || tag != V_ASN1_SEQUENCE)
		return -1;
	if (ASN1_get_object(&q, &n, &tag, &cls, end - q) & 0x80 || tag != V_ASN1_SEQUENCE)
		return -1;
	const unsigned char *after_alg = q + n;
	ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &q, after_alg - q);
	*md = oid ? EVP_get_digestbyobj(oid) : NULL;
	ASN1_OBJECT_free(oid);
	q = after_alg;
	if (!*md || ASN1_get_object(&q, &n, &tag, &cls, end - q) & 0x80 ||
	    tag != V_ASN1_OCTET_STRING || q + n > end)
		return -1;
	*digest = q;
	*digest_len = n;
	return 0;
}

static int verify_attributes(PKCS7_SIGNER_INFO *si, X509 *signer, const unsigned char *content,
                             size_t content_len, csod_error *err)
{
	const EVP_MD *md = EVP_get_digestbyobj(si->digest_alg->algorithm);
	ASN1_OCTET_STRING *claimed = PKCS7_digest_from_attributes(si->auth_attr);
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	size_t h = csod_spc_header_len(content);
	if (!md || !claimed || !EVP_Digest(content + h, content_len - h, digest, &len, md, NULL) ||
	    ASN1_STRING_length(claimed) != (int)len ||
	    memcmp(ASN1_STRING_get0_data(claimed), digest, len) != 0)
		return csod_fail(err, "the signed messageDigest does not cover the signed content");
	unsigned char *attrs = NULL;
	int attrs_len =
	    ASN1_item_i2d((ASN1_VALUE *)si->auth_attr, &attrs, ASN1_ITEM_rptr(PKCS7_ATTR_VERIFY));
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = attrs_len > 0 && ctx &&
	         EVP_DigestVerifyInit(ctx, NULL, md, NULL, X509_get0_pubkey(signer)) == 1 &&
	         EVP_DigestVerify(ctx, ASN1_STRING_get0_data(si->enc_digest),
	                          (size_t)ASN1_STRING_length(si->enc_digest), attrs,
	                          (size_t)attrs_len) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(attrs);
	ERR_clear_error();
	return ok ? 0 : csod_fail(err, "the signature over the signed attributes is invalid");
}

/* 1 if signer chains to c->trust, 0 if not (c->why says why). */
static int chains(csod_spc_checker *c, X509 *signer, STACK_OF(X509) * certs)
{
	X509_STORE_CTX *xctx = X509_STORE_CTX_new();
	int chained = xctx && X509_STORE_CTX_init(xctx, c->trust, signer, certs) &&
	              X509_STORE_CTX_set_purpose(xctx, X509_PURPOSE_ANY) &&
	              X509_verify_cert(xctx) == 1;
	if (!chained)
		csod_fail(&c->why, "the signing certificate does not chain to a trusted root: %s",
		          xctx ? X509_verify_cert_error_string(X509_STORE_CTX_get_error(xctx))
		               : "");
	X509_STORE_CTX_free(xctx);
	ERR_clear_error();
	return chained;
}

static int check_one(csod_spc_checker *c, PKCS7 *p7, int depth, csod_error *err);

/* Every value of every nested-signature attribute of si. */
static int check_nested(csod_spc_checker *c, PKCS7_SIGNER_INFO *si, int depth, csod_error *err)
{
	int nested = csod_spc_nid(SPC_NESTED_SIGNATURE);
	for (int i = 0; i < sk_X509_ATTRIBUTE_num(si->unauth_attr); i++) {
		X509_ATTRIBUTE *a = sk_X509_ATTRIBUTE_value(si->unauth_attr, i);
		if (OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a)) != nested)
			continue;
		if (depth + 1 > MAX_NESTING)
			return csod_fail(err, "signatures are nested more than %d deep",
			                 MAX_NESTING);
		for (int k = 0; k < X509_ATTRIBUTE_count(a); k++) {
			ASN1_TYPE *t = X509_ATTRIBUTE_get0_type(a, k);
			if (!t || t->type != V_ASN1_SEQUENCE)
				return csod_fail(err, "a nested signature does not parse");
			const unsigned char *np = ASN1_STRING_get0_data(t->value.sequence);
			PKCS7 *inner = d2i_PKCS7(NULL, &np, ASN1_STRING_length(t->value.sequence));
			int rc = inner ? check_one(c, inner, depth + 1, err)
			               : csod_fail(err, "a nested signature does not parse");
			PKCS7_free(inner);
			if (rc < 0)
				return -1;
		}
	}
	return 0;
}

/* The content p7 signs (an SpcIndirectDataContent, or a CTL), what
 * naming it in errors. */
static int signed_content(PKCS7 *p7, const char *what, const unsigned char **cp, long *clen,
                          csod_error *err)
{
	if (!PKCS7_type_is_signed(p7) || !p7->d.sign->contents ||
	    OBJ_obj2nid(p7->d.sign->contents->type) == NID_pkcs7_data ||
	    !p7->d.sign->contents->d.other ||
	    p7->d.sign->contents->d.other->type != V_ASN1_SEQUENCE)
		return csod_fail(err, "%s is not an Authenticode signature", what);
	ASN1_STRING *content = p7->d.sign->contents->d.other->value.sequence;
	*cp = ASN1_STRING_get0_data(content);
	*clen = ASN1_STRING_length(content);
	return 0;
}

int csod_spc_claimed_hash(PKCS7 *p7, const EVP_MD **md, unsigned char *digest, size_t *len,
                          csod_error *err)
{
	const unsigned char *cp, *d;
	long clen, n;
	if (signed_content(p7, "the signature", &cp, &clen, err) < 0)
		return -1;
	if (clen < 4 || claimed_digest(cp, clen, md, &d, &n) < 0 || n != EVP_MD_get_size(*md))
		return csod_fail(err, "the SpcIndirectDataContent of the signature does not parse");
	memcpy(digest, d, (size_t)n);
	*len = (size_t)n;
	return 0;
}

static int check_one(csod_spc_checker *c, PKCS7 *p7, int depth, csod_error *err)
{
	const char *what = depth ? "a nested signature" : "the signature";
	const unsigned char *cp;
	long clen;
	if (signed_content(p7, what, &cp, &clen, err) < 0)
		return -1;
	const EVP_MD *md = NULL;
	const unsigned char *digest = NULL;
	long digest_len = 0;
	int ctl_nid = csod_spc_nid(SPC_CTL); /* registered before the lookup below */
	int ctl = OBJ_obj2nid(p7->d.sign->contents->type) == ctl_nid;
	if (ctl && !c->check_content)
		return csod_fail(err, "%s signs a trust list, not this file", what);
	if (clen < 4)
		return csod_fail(err, "the signed content of %s is empty", what);
	if (!ctl && claimed_digest(cp, clen, &md, &digest, &digest_len) < 0)
		return csod_fail(err, "the SpcIndirectDataContent of %s does not parse", what);
	if (!ctl &&
	    (c->blob ? digest_len > CSOD_SPC_MAX_IMAGE_HASH : digest_len != EVP_MD_get_size(md)))
		return csod_fail(err, "%s claims a %s image hash of %ld bytes", what,
		                 EVP_MD_get0_name(md), digest_len);
	STACK_OF(PKCS7_SIGNER_INFO) *infos = PKCS7_get_signer_info(p7);
	PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(infos, 0);
	if (!si || sk_PKCS7_SIGNER_INFO_num(infos) != 1 ||
	    !EVP_get_digestbyobj(si->digest_alg->algorithm))
		return csod_fail(err, "%s does not hold exactly one signer with a known digest",
		                 what);
	STACK_OF(X509) *signers = PKCS7_get0_signers(p7, NULL, 0);
	X509 *signer = signers ? sk_X509_value(signers, 0) : NULL;
	ERR_clear_error();
	int rc = -1;
	if (!signer)
		csod_fail(err, "%s does not carry its signer's certificate", what);
	else if (!chains(c, signer, p7->d.sign->cert))
		rc = 0; /* not ours: its structure is all we judge */
	else if ((ctl ? c->check_content(c->ctx, cp, (size_t)clen, err)
	              : c->check(c->ctx, md, digest, (size_t)digest_len, err)) == 0 &&
	         verify_attributes(si, signer, cp, (size_t)clen, err) == 0) {
		c->checked++;
		rc = 0;
	}
	sk_X509_free(signers);
	return rc < 0 ? -1 : check_nested(c, si, depth, err);
}

void csod_spc_checker_init(csod_spc_checker *c, X509_STORE *trust, csod_spc_check_fn check,
                           void *ctx)
{
	memset(c, 0, sizeof *c);
	c->trust = trust;
	c->check = check;
	c->ctx = ctx;
}

int csod_spc_check(csod_spc_checker *c, PKCS7 *p7, csod_error *err)
{
	return check_one(c, p7, 0, err);
}

int csod_spc_checker_done(const csod_spc_checker *c, csod_error *err)
{
	if (c->checked > 0)
		return 0;
	return csod_fail(err, "%s", c->why.msg[0] ? c->why.msg : "no signature to check");
}

int csod_spc_verify(PKCS7 *p7, X509_STORE *trust, csod_spc_check_fn check, void *ctx,
                    csod_error *err)
{
	csod_spc_checker c;
	csod_spc_checker_init(&c, trust, check, ctx);
	if (csod_spc_check(&c, p7, err) < 0)
		return -1;
	return csod_spc_checker_done(&c, err);
}

/* SEQUENCE { SEQUENCE { OID SpcSipInfo, sip } ... } */
int csod_spc_names_sip(PKCS7 *p7, const unsigned char *sip, size_t sip_len)
{
	static const unsigned char sipinfo_oid[] = {0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04,
	                                            0x01, 0x82, 0x37, 0x02, 0x01, 0x1e};
	const ASN1_TYPE *content =
	    PKCS7_type_is_signed(p7) && p7->d.sign->contents ? p7->d.sign->contents->d.other : NULL;
	if (!content || content->type != V_ASN1_SEQUENCE)
		return 0;
	const unsigned char *p = ASN1_STRING_get0_data(content->value.sequence);
	long len = ASN1_STRING_length(content->value.sequence), n;
	int tag, cls;
	const unsigned char *end = p + len;
	return !(ASN1_get_object(&p, &n, &tag, &cls, len) & 0x80) && tag == V_ASN1_SEQUENCE &&
	       !(ASN1_get_object(&p, &n, &tag, &cls, end - p) & 0x80) && tag == V_ASN1_SEQUENCE &&
	       (size_t)n == sizeof sipinfo_oid + sip_len &&
	       memcmp(p, sipinfo_oid, sizeof sipinfo_oid) == 0 &&
	       memcmp(p + sizeof sipinfo_oid, sip, sip_len) == 0;
}
