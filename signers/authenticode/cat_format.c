/* Security catalogs (cat_format.h): the SignedData parsed by OpenSSL, the
 * CTL inside it walked element by element against Microsoft's definition,
 * so that a catalog whose trust list is broken is refused at intake rather
 * than signed. */
#include "cat_format.h"

#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>

/* DER contents octets of the two OIDs a catalog opens with. */
static const unsigned char signed_data_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                                0x0d, 0x01, 0x07, 0x02};
static const unsigned char ctl_oid[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x0a, 0x01};

/* One DER header at *p, before end: its tag and length (-1: BER's
 * indefinite length); *p moves past it. */
static int header(const unsigned char **p, const unsigned char *end, int *tag, long *len)
{
	if (end - *p < 2)
		return -1;
	*tag = (*p)[0];
	unsigned n = (*p)[1];
	*p += 2;
	if (n < 0x80 || n == 0x80) {
		*len = n == 0x80 ? -1 : (long)n;
		return 0;
	}
	n &= 0x7f;
	if (n > 4 || end - *p < (long)n)
		return -1;
	unsigned long v = 0;
	while (n--)
		v = v << 8 | *(*p)++;
	*len = (long)v;
	return 0;
}

/* The next header is tag; with skip, its contents are stepped over too. */
static int expect(const unsigned char **p, const unsigned char *end, int want, int skip)
{
	int tag;
	long len;
	if (header(p, end, &tag, &len) < 0 || tag != want)
		return -1;
	if (!skip)
		return 0;
	if (len < 0 || end - *p < len)
		return -1;
	*p += len;
	return 0;
}

static int expect_oid(const unsigned char **p, const unsigned char *end, const unsigned char *oid,
                      size_t oid_len)
{
	int tag;
	long len;
	if (header(p, end, &tag, &len) < 0 || tag != V_ASN1_OBJECT || len != (long)oid_len ||
	    end - *p < len || memcmp(*p, oid, oid_len) != 0)
		return -1;
	*p += len;
	return 0;
}

int csod_cat_sniff(const unsigned char *head, size_t len)
{
	const unsigned char *p = head, *end = head + len;
	/* ContentInfo { signedData, [0] SignedData { version, digestAlgorithms,
	 * encapContentInfo { szOID_CTL, ... } } } */
	return expect(&p, end, 0x30, 0) == 0 &&
	       expect_oid(&p, end, signed_data_oid, sizeof signed_data_oid) == 0 &&
	       expect(&p, end, 0xa0, 0) == 0 && expect(&p, end, 0x30, 0) == 0 &&
	       expect(&p, end, V_ASN1_INTEGER, 1) == 0 && expect(&p, end, 0x31, 1) == 0 &&
	       expect(&p, end, 0x30, 0) == 0 && expect_oid(&p, end, ctl_oid, sizeof ctl_oid) == 0;
}

static int is_ctl(const ASN1_OBJECT *type)
{
	return type && OBJ_length(type) == sizeof ctl_oid &&
	       memcmp(OBJ_get0_data(type), ctl_oid, sizeof ctl_oid) == 0;
}

/* One DER element at *p, before end: its tag and contents, which must fit
 * (definite lengths only, as DER has them); *p moves to its contents.
 * Walked with ASN1_get_object, not decoded into objects: a catalog lists
 * thousands of members and is carried verbatim, so what it needs is the
 * structure checked, not an allocation per attribute. */
static int element(const unsigned char **p, const unsigned char *end, int *tag, long *len)
{
	const unsigned char *q = *p;
	int cls, ret = ASN1_get_object(&q, len, tag, &cls, end - *p);
	if (ret & 0x80 || ret == (V_ASN1_CONSTRUCTED | 1) || *len > end - q)
		return -1;
	if (cls == V_ASN1_CONTEXT_SPECIFIC)
		*tag |= 0x80;
	*p = q;
	return 0;
}

/* The next element, when its tag is want: its contents in [*in, *in_end)
 * and *p past it; 0 if the next is something else (an absent OPTIONAL). */
static int take(const unsigned char **p, const unsigned char *end, int want,
                const unsigned char **in, const unsigned char **in_end)
{
	const unsigned char *q = *p;
	int tag;
	long len;
	if (q >= end || element(&q, end, &tag, &len) < 0 || tag != want)
		return 0;
	*in = q;
	*in_end = q + len;
	*p = q + len;
	return 1;
}

/* TrustedSubject ::= SEQUENCE { subjectIdentifier OCTET STRING,
 *   subjectAttributes SET OF SEQUENCE { type OID, values SET } OPTIONAL } */
static int subject_ok(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *c, *ce, *a, *ae, *x, *xe;
	if (!take(&p, end, V_ASN1_OCTET_STRING, &c, &ce))
		return 0;
	if (take(&p, end, V_ASN1_SET, &c, &ce))
		while (c < ce)
			if (!take(&c, ce, V_ASN1_SEQUENCE, &a, &ae) ||
			    !take(&a, ae, V_ASN1_OBJECT, &x, &xe) ||
			    !take(&a, ae, V_ASN1_SET, &x, &xe) || a != ae)
				return 0;
	return p == end;
}

static int time_field(const unsigned char **p, const unsigned char *end)
{
	const unsigned char *c, *ce;
	return take(p, end, V_ASN1_UTCTIME, &c, &ce) ||
	       take(p, end, V_ASN1_GENERALIZEDTIME, &c, &ce);
}

/* CertificateTrustList ::= SEQUENCE {
 *   version CTLVersion DEFAULT v1, subjectUsage SEQUENCE OF OID,
 *   listIdentifier OCTET STRING OPTIONAL, sequenceNumber INTEGER OPTIONAL,
 *   ctlThisUpdate Time, ctlNextUpdate Time OPTIONAL,
 *   subjectAlgorithm AlgorithmIdentifier,
 *   trustedSubjects SEQUENCE OF TrustedSubject OPTIONAL,
 *   ctlExtensions [0] EXPLICIT Extensions OPTIONAL }
 * The DER of one, whole; its member count in *members. */
static int parse_ctl(const unsigned char *der, size_t len, int *members, csod_error *err)
{
	const unsigned char *p = der, *end = der + len, *c, *ce, *s, *se, *x, *xe;
	int n = 0;
	if (!take(&p, end, V_ASN1_SEQUENCE, &c, &ce) || p != end)
		goto bad;
	take(&c, ce, V_ASN1_INTEGER, &x, &xe);
	if (!take(&c, ce, V_ASN1_SEQUENCE, &s, &se))
		goto bad;
	while (s < se)
		if (!take(&s, se, V_ASN1_OBJECT, &x, &xe))
			goto bad;
	take(&c, ce, V_ASN1_OCTET_STRING, &x, &xe);
	take(&c, ce, V_ASN1_INTEGER, &x, &xe);
	if (!time_field(&c, ce))
		goto bad;
	time_field(&c, ce);
	if (!take(&c, ce, V_ASN1_SEQUENCE, &s, &se) || !take(&s, se, V_ASN1_OBJECT, &x, &xe))
		goto bad;
	if (take(&c, ce, V_ASN1_SEQUENCE, &s, &se))
		for (; s < se; n++)
			if (!take(&s, se, V_ASN1_SEQUENCE, &x, &xe) || !subject_ok(x, xe))
				goto bad;
	take(&c, ce, 0x80, &x, &xe); /* [0] */
	if (c != ce)
		goto bad;
	*members = n;
	return 0;
bad:
	return csod_fail(err, "the catalog's certificate trust list does not parse");
}

int csod_cat_parse_buffer(const unsigned char *buf, size_t len, csod_cat *cat, csod_error *err)
{
	memset(cat, 0, sizeof *cat);
	if (len > CSOD_CAT_MAX)
		return csod_fail(err, "%zu bytes: catalogs over %u MiB are not signed", len,
		                 CSOD_CAT_MAX >> 20);
	const unsigned char *p = buf;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
	ERR_clear_error();
	if (!p7)
		return csod_fail(err, "not a security catalog (not a DER PKCS#7 structure)");
	ASN1_TYPE *content = PKCS7_type_is_signed(p7) && p7->d.sign && p7->d.sign->contents
	                         ? p7->d.sign->contents->d.other
	                         : NULL;
	char type[80] = "none";
	int rc = -1;
	if (p != buf + len)
		csod_fail(err, "%zu bytes follow the catalog's PKCS#7 structure",
		          len - (size_t)(p - buf));
	else if (!PKCS7_type_is_signed(p7) || !p7->d.sign)
		csod_fail(err, "not a security catalog (a PKCS#7 structure, but not SignedData)");
	else if (!p7->d.sign->contents || !is_ctl(p7->d.sign->contents->type)) {
		if (p7->d.sign->contents && p7->d.sign->contents->type)
			OBJ_obj2txt(type, sizeof type, p7->d.sign->contents->type, 1);
		csod_fail(err,
		          "not a security catalog (its signed content is %s, not a certificate "
		          "trust list, 1.3.6.1.4.1.311.10.1)",
		          type);
	} else if (!content || content->type != V_ASN1_SEQUENCE)
		csod_fail(err, "the catalog holds no certificate trust list");
	else if (parse_ctl(ASN1_STRING_get0_data(content->value.sequence),
	                   (size_t)ASN1_STRING_length(content->value.sequence), &cat->n_members,
	                   err) == 0)
		rc = 0;
	if (rc < 0) {
		PKCS7_free(p7);
		return -1;
	}
	cat->p7 = p7;
	cat->ctl = ASN1_STRING_get0_data(content->value.sequence);
	cat->ctl_len = (size_t)ASN1_STRING_length(content->value.sequence);
	cat->n_signers = sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7));
	if (cat->n_signers < 0)
		cat->n_signers = 0;
	return 0;
}

void csod_cat_free(csod_cat *cat)
{
	PKCS7_free(cat->p7);
	memset(cat, 0, sizeof *cat);
}
