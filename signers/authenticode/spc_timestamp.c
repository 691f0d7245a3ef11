/* Timestamps in Authenticode signatures; see spc.h. */
#include "spc.h"

#include <stdlib.h>

#include <openssl/objects.h>

#include "../common/timestamp.h"

#define SPC_RFC3161 "1.3.6.1.4.1.311.3.3.1"

static int add_unsigned(PKCS7_SIGNER_INFO *si, int nid, const unsigned char *der, size_t len)
{
	ASN1_STRING *value = csod_spc_sequence_of(der, len);
	if (value && PKCS7_add_attribute(si, nid, V_ASN1_SEQUENCE, value))
		return 1;
	ASN1_STRING_free(value);
	return 0;
}

static int rfc3161(PKCS7_SIGNER_INFO *si, const csod_timestamp_options *t, csod_error *err)
{
	return csod_timestamp_signer_info(si, csod_spc_nid(SPC_RFC3161), t, err);
}

/* The TSA's signer info as our counter-signature, its certificates beside
 * ours (a verifier looks for the counter-signer's certificate there). */
static int legacy(PKCS7 *p7, PKCS7_SIGNER_INFO *si, const csod_timestamp_options *t,
                  csod_error *err)
{
	PKCS7 *reply = NULL;
	int rc =
	    csod_timestamp_authenticode(t, ASN1_STRING_get0_data(si->enc_digest),
	                                (size_t)ASN1_STRING_length(si->enc_digest), &reply, err);
	if (rc <= 0)
		return rc;
	PKCS7_SIGNER_INFO *tsi = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(reply), 0);
	unsigned char *der = NULL;
	int n = i2d_PKCS7_SIGNER_INFO(tsi, &der);
	int ok = n > 0 && add_unsigned(si, NID_pkcs9_countersignature, der, (size_t)n);
	STACK_OF(X509) *certs = reply->d.sign->cert;
	for (int i = 0; ok && i < sk_X509_num(certs); i++) {
		X509 *c = sk_X509_value(certs, i);
		if (!X509_find_by_issuer_and_serial(p7->d.sign->cert, X509_get_issuer_name(c),
		                                    (ASN1_INTEGER *)X509_get0_serialNumber(c)))
			ok = PKCS7_add_certificate(p7, c);
	}
	OPENSSL_free(der);
	PKCS7_free(reply);
	return ok ? 0 : csod_fail_ssl(err, "cannot add the timestamp");
}

int csod_spc_timestamp(PKCS7 *p7, const csod_sign_options *opt, csod_error *err)
{
	PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7), 0);
	if (opt->timestamp.legacy)
		return legacy(p7, si, &opt->timestamp, err);
	return rfc3161(si, &opt->timestamp, err);
}
