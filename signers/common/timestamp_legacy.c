/* Microsoft's legacy Authenticode time-stamping protocol ("SPC time
 * stamp"), for Windows versions that predate RFC 3161 in Authenticode: the
 * client POSTs, base64-encoded,
 *   TimeStampRequest ::= SEQUENCE {
 *       countersignatureType OBJECT IDENTIFIER,  -- 1.3.6.1.4.1.311.3.2.1
 *       attributes Attributes OPTIONAL,          -- never sent
 *       content ContentInfo }                    -- data: the signature value
 * and the server answers, base64-encoded, a PKCS#7 SignedData over that
 * content whose signer info becomes the signature's counter-signature. */
#include "timestamp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "tsa_client.h"

#define SPC_TIME_STAMP_REQUEST "1.3.6.1.4.1.311.3.2.1"

typedef struct {
	ASN1_OBJECT *type;
	PKCS7 *content;
} LegacyTimeStampRequest;

/* clang-format off */
DECLARE_ASN1_FUNCTIONS(LegacyTimeStampRequest)

ASN1_SEQUENCE(LegacyTimeStampRequest) = {
	ASN1_SIMPLE(LegacyTimeStampRequest, type, ASN1_OBJECT),
	ASN1_SIMPLE(LegacyTimeStampRequest, content, PKCS7),
} ASN1_SEQUENCE_END(LegacyTimeStampRequest)

IMPLEMENT_ASN1_FUNCTIONS(LegacyTimeStampRequest)

static char *make_request(const unsigned char *sig, size_t len, int *out_len);
/* clang-format on */

/* The request, base64 (no line breaks), as the body to POST. NULL on
 * failure. */
static char *make_request(const unsigned char *sig, size_t len, int *out_len)
{
	LegacyTimeStampRequest *req = LegacyTimeStampRequest_new();
	unsigned char *der = NULL;
	char *b64 = NULL;
	int n = -1;
	if (req && (req->type = OBJ_txt2obj(SPC_TIME_STAMP_REQUEST, 1)) &&
	    PKCS7_set_type(req->content, NID_pkcs7_data) &&
	    ASN1_OCTET_STRING_set(req->content->d.data, sig, (int)len))
		n = i2d_LegacyTimeStampRequest(req, &der);
	if (n > 0 && (b64 = malloc(4 * ((size_t)n + 2) / 3 + 1)))
		*out_len = EVP_EncodeBlock((unsigned char *)b64, der, n);
	OPENSSL_free(der);
	LegacyTimeStampRequest_free(req);
	return b64;
}

/* The answer is base64 (with or without line breaks); a few servers send
 * the DER itself. */
static PKCS7 *parse_reply(const csod_tsa_reply *r)
{
	const unsigned char *p = r->data;
	if (r->len > 0 && r->data[0] == 0x30)
		return d2i_PKCS7(NULL, &p, (long)r->len);
	unsigned char *der = malloc(r->len / 4 * 3 + 3);
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	int n = 0, tail = 0;
	PKCS7 *p7 = NULL;
	if (der && ctx && r->len <= INT32_MAX) {
		EVP_DecodeInit(ctx);
		if (EVP_DecodeUpdate(ctx, der, &n, r->data, (int)r->len) >= 0 &&
		    EVP_DecodeFinal(ctx, der + n, &tail) == 1) {
			p = der;
			p7 = d2i_PKCS7(NULL, &p, (long)(n + tail));
		}
	}
	EVP_ENCODE_CTX_free(ctx);
	free(der);
	return p7;
}

typedef struct legacy_ask {
	const unsigned char *sig;
	size_t sig_len;
	const char *body;
	int body_len;
	X509_STORE *trust;
	int timeout_s;
	PKCS7 **reply;
} legacy_ask;

static int fail_ssl_detail(csod_error *err, const char *what, const char *detail)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return csod_fail(err, "%s: %s", what, detail ? detail : reason ? reason : "rejected");
}

/* Our signature value as its content, one signer whose attributes (signing
 * time, message digest of that content) it signed, and a certificate that
 * chains to the TSA trust store with the timeStamping usage. */
static int check_reply(legacy_ask *a, PKCS7 *p7, csod_error *err)
{
	if (!PKCS7_type_is_signed(p7) || !p7->d.sign->contents ||
	    !PKCS7_type_is_data(p7->d.sign->contents))
		return csod_fail(err, "the answer is not a signed timestamp");
	ASN1_OCTET_STRING *content = p7->d.sign->contents->d.data;
	if (!content || (size_t)ASN1_STRING_length(content) != a->sig_len ||
	    memcmp(ASN1_STRING_get0_data(content), a->sig, a->sig_len) != 0)
		return csod_fail(err, "stamped another signature");
	STACK_OF(PKCS7_SIGNER_INFO) *sis = PKCS7_get_signer_info(p7);
	if (sk_PKCS7_SIGNER_INFO_num(sis) != 1)
		return csod_fail(err, "the answer has %d signers, not one",
		                 sk_PKCS7_SIGNER_INFO_num(sis));
	PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(sis, 0);
	if (!PKCS7_get_signed_attribute(si, NID_pkcs9_signingTime))
		return csod_fail(err, "the answer carries no signing time");
	/* The signature over the attributes and their message digest; the
	 * chain is checked below, for the timeStamping purpose. */
	if (PKCS7_verify(p7, NULL, NULL, NULL, NULL, PKCS7_NOVERIFY) != 1)
		return fail_ssl_detail(err, "the timestamp's signature does not check out", NULL);
	STACK_OF(X509) *signers = PKCS7_get0_signers(p7, NULL, 0);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = signers && ctx &&
	         X509_STORE_CTX_init(ctx, a->trust, sk_X509_value(signers, 0), p7->d.sign->cert);
	if (ok && X509_verify_cert(ctx) != 1) {
		char why[160];
		snprintf(why, sizeof why, "certificate verify error: %s",
		         X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		ok = 0;
		fail_ssl_detail(err, "the timestamp does not check out", why);
	} else if (!ok) {
		fail_ssl_detail(err, "cannot check the timestamp's signer", NULL);
	}
	X509_STORE_CTX_free(ctx);
	sk_X509_free(signers);
	return ok ? 0 : -1;
}

static int ask_legacy(void *arg, const char *url, csod_error *err)
{
	legacy_ask *a = arg;
	csod_tsa_reply reply = {NULL, 0, 0};
	int rc = csod_tsa_post(url, "application/octet-stream", (const unsigned char *)a->body,
	                       (size_t)a->body_len, a->timeout_s, &reply, err);
	PKCS7 *p7 = rc == 0 ? parse_reply(&reply) : NULL;
	if (rc == 0 && !p7)
		rc = csod_fail(err, "the answer is not an Authenticode timestamp");
	if (rc == 0)
		rc = check_reply(a, p7, err);
	if (rc == 0) {
		*a->reply = p7;
		p7 = NULL;
	}
	PKCS7_free(p7);
	free(reply.data);
	ERR_clear_error();
	return rc;
}

int csod_timestamp_authenticode(const csod_timestamp_options *t, const unsigned char *sig,
                                size_t len, PKCS7 **reply, csod_error *err)
{
	legacy_ask a = {.sig = sig, .sig_len = len, .timeout_s = t->timeout_s, .reply = reply};
	char *body = make_request(sig, len, &a.body_len);
	*reply = NULL;
	a.body = body;
	int rc = -1;
	if (!body)
		csod_fail_ssl(err, "cannot build a timestamp request");
	else if ((a.trust = csod_tsa_trust(t, err)))
		rc = csod_tsa_failover(t, "Authenticode legacy", ask_legacy, &a, err);
	X509_STORE_free(a.trust);
	free(body);
	return rc;
}
