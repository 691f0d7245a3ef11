/* Detached Authenticode signatures: what is taken out of a file and what
 * may be put back. */
#include "detached.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>

/* The length of the DER element at p (its header and content), or 0 when
 * p's n bytes do not start with a whole definite-length element. */
static size_t element_length(const unsigned char *p, size_t n)
{
	const unsigned char *q = p;
	long len;
	int tag, xclass;
	if (n > LONG_MAX)
		n = LONG_MAX;
	int rc = ASN1_get_object(&q, &len, &tag, &xclass, (long)n);
	if (rc & 0x80 || rc == (V_ASN1_CONSTRUCTED | 1)) /* error, or indefinite length */
		return 0;
	size_t total = (size_t)(q - p) + (size_t)len;
	return total <= n ? total : 0;
}

int csod_detached_check(const unsigned char *der, size_t len, csod_error *err)
{
	size_t span = element_length(der, len);
	const unsigned char *p = der;
	PKCS7 *p7 = span ? d2i_PKCS7(NULL, &p, (long)span) : NULL;
	int rc = 0;
	if (!p7 || p != der + span)
		rc = csod_fail(err, "not a DER-encoded PKCS#7 signature");
	else if (span != len)
		rc = csod_fail(err, "%zu bytes follow the PKCS#7 signature", len - span);
	else if (!PKCS7_type_is_signed(p7))
		rc = csod_fail(err, "the PKCS#7 is not SignedData");
	PKCS7_free(p7);
	return rc;
}

int csod_detached_take(const unsigned char *p, size_t n, unsigned char **der, size_t *der_len,
                       csod_error *err)
{
	*der = NULL;
	size_t span = element_length(p, n);
	if (span == 0 || csod_detached_check(p, span, err) < 0)
		return csod_fail(err, "the file's signature is not a DER PKCS#7 SignedData");
	if (!(*der = malloc(span)))
		return csod_fail(err, "out of memory");
	memcpy(*der, p, span);
	*der_len = span;
	return 0;
}
