/* RFC 3161 time-stamping over HTTP; see timestamp.h. */
#include "timestamp.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ts.h>

#include "tsa_client.h"

int csod_timestamp_wanted(const csod_timestamp_options *t)
{
	return t->n_urls > 0;
}

void csod_timestamp_note(const csod_timestamp_options *t, int level, const char *fmt, ...)
{
	if (!t->note)
		return;
	char msg[sizeof((csod_error *)0)->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	t->note(t->note_arg, level, msg);
}

int csod_timestamp_rfc3161_only(const csod_timestamp_options *t, const char *format,
                                csod_error *err)
{
	if (csod_timestamp_wanted(t) && t->legacy)
		return csod_fail(err,
		                 "the legacy Authenticode timestamp protocol is for Authenticode "
		                 "files only; %s signatures take RFC 3161 timestamps",
		                 format);
	return 0;
}

static TS_REQ *make_request(const EVP_MD *md, const unsigned char *hash, unsigned hash_len)
{
	TS_REQ *req = TS_REQ_new();
	TS_MSG_IMPRINT *imprint = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *nonce = ASN1_INTEGER_new();
	unsigned char rnd[8];
	int ok = RAND_bytes(rnd, sizeof rnd) == 1;
	rnd[0] &= 0x7f;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | rnd[i];
	ok = ok && req && imprint && alg && nonce && TS_REQ_set_version(req, 1) &&
	     X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL) &&
	     TS_MSG_IMPRINT_set_algo(imprint, alg) &&
	     TS_MSG_IMPRINT_set_msg(imprint, (unsigned char *)hash, (int)hash_len) &&
	     TS_REQ_set_msg_imprint(req, imprint) && ASN1_INTEGER_set_uint64(nonce, v) &&
	     TS_REQ_set_nonce(req, nonce) && TS_REQ_set_cert_req(req, 1);
	TS_MSG_IMPRINT_free(imprint);
	X509_ALGOR_free(alg);
	ASN1_INTEGER_free(nonce);
	if (!ok) {
		TS_REQ_free(req);
		return NULL;
	}
	return req;
}

typedef struct rfc3161_ask {
	TS_REQ *req;
	unsigned char *query; /* req in DER */
	int query_len;
	X509_STORE *trust;
	int timeout_s;
	unsigned char **token_der;
	size_t *token_len;
} rfc3161_ask;

/* OpenSSL's last reason with its detail ("certificate verify error:
 * Verify error:unable to get local issuer certificate"). */
static int fail_verify(csod_error *err, const char *what)
{
	const char *data = NULL;
	int flags = 0;
	unsigned long e = ERR_peek_last_error_data(&data, &flags);
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	csod_fail(err, "%s: %s%s%s", what, reason ? reason : "rejected",
	          data && *data && flags & ERR_TXT_STRING ? ": " : "",
	          data && flags & ERR_TXT_STRING ? data : "");
	ERR_clear_error();
	return -1;
}

/* The checks in the order that gives the clearest reason; then OpenSSL's
 * own over all of it, with the signature and the signer's chain. */
static int check_response(rfc3161_ask *a, TS_RESP *resp, csod_error *err)
{
	TS_STATUS_INFO *si = TS_RESP_get_status_info(resp);
	long status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si));
	TS_TST_INFO *info = TS_RESP_get_tst_info(resp);
	if (status != 0 && status != 1)
		return csod_fail(err, "refused the request (status %ld)", status);
	if (!info || !TS_RESP_get_token(resp))
		return csod_fail(err, "the answer holds no token");
	if (!TS_TST_INFO_get_nonce(info) ||
	    ASN1_INTEGER_cmp(TS_TST_INFO_get_nonce(info), TS_REQ_get_nonce(a->req)) != 0)
		return csod_fail(err, "the answer is for another request (nonce)");
	ASN1_OCTET_STRING *want = TS_MSG_IMPRINT_get_msg(TS_REQ_get_msg_imprint(a->req));
	ASN1_OCTET_STRING *got = TS_MSG_IMPRINT_get_msg(TS_TST_INFO_get_msg_imprint(info));
	if (!got || ASN1_STRING_cmp(got, want) != 0)
		return csod_fail(err, "stamped another hash");
	TS_VERIFY_CTX *v = TS_REQ_to_TS_VERIFY_CTX(a->req, NULL);
	if (!v || !X509_STORE_up_ref(a->trust)) {
		TS_VERIFY_CTX_free(v);
		return csod_fail_ssl(err, "cannot check the answer");
	}
	TS_VERIFY_CTX_add_flags(v, TS_VFY_SIGNATURE);
	TS_VERIFY_CTX_set_store(v, a->trust); /* v owns the reference now */
	int ok = TS_RESP_verify_response(v, resp);
	TS_VERIFY_CTX_free(v);
	return ok ? 0 : fail_verify(err, "the timestamp does not check out");
}

static int ask_rfc3161(void *arg, const char *url, csod_error *err)
{
	rfc3161_ask *a = arg;
	csod_tsa_reply reply = {NULL, 0, 0};
	int rc = csod_tsa_post(url, "application/timestamp-query", a->query, (size_t)a->query_len,
	                       a->timeout_s, &reply, err);
	const unsigned char *p = reply.data;
	TS_RESP *resp = rc == 0 ? d2i_TS_RESP(NULL, &p, (long)reply.len) : NULL;
	if (rc == 0 && !resp)
		rc = csod_fail(err, "the answer is not a timestamp response");
	if (rc == 0)
		rc = check_response(a, resp, err);
	if (rc == 0) {
		unsigned char *der = NULL;
		int n = i2d_PKCS7(TS_RESP_get_token(resp), &der);
		*a->token_der = n > 0 ? malloc((size_t)n) : NULL;
		if (*a->token_der) {
			memcpy(*a->token_der, der, (size_t)n);
			*a->token_len = (size_t)n;
		} else {
			rc = csod_fail(err, "cannot encode the timestamp token");
		}
		OPENSSL_free(der);
	}
	TS_RESP_free(resp);
	free(reply.data);
	ERR_clear_error(); /* a refused answer's reasons are in err already */
	return rc;
}

int csod_timestamp_rfc3161(const csod_timestamp_options *t, const EVP_MD *md,
                           const unsigned char *data, size_t len, unsigned char **token_der,
                           size_t *token_len, csod_error *err)
{
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned hash_len = 0;
	if (!EVP_Digest(data, len, hash, &hash_len, md, NULL))
		return csod_fail_ssl(err, "cannot hash the signature for its timestamp");
	rfc3161_ask a = {.timeout_s = t->timeout_s, .token_der = token_der, .token_len = token_len};
	*token_der = NULL;
	a.req = make_request(md, hash, hash_len);
	a.query_len = a.req ? i2d_TS_REQ(a.req, &a.query) : -1;
	int rc = -1;
	if (a.query_len <= 0)
		csod_fail_ssl(err, "cannot build a timestamp request");
	else if ((a.trust = csod_tsa_trust(t, err)))
		rc = csod_tsa_failover(t, "RFC 3161", ask_rfc3161, &a, err);
	X509_STORE_free(a.trust);
	OPENSSL_free(a.query);
	TS_REQ_free(a.req);
	return rc;
}

int csod_timestamp_signer_info(PKCS7_SIGNER_INFO *si, int nid, const csod_timestamp_options *t,
                               csod_error *err)
{
	unsigned char *token = NULL;
	size_t token_len = 0;
	int rc = csod_timestamp_rfc3161(t, EVP_sha256(), ASN1_STRING_get0_data(si->enc_digest),
	                                (size_t)ASN1_STRING_length(si->enc_digest), &token,
	                                &token_len, err);
	if (rc <= 0)
		return rc;
	/* The token's DER as the attribute's SEQUENCE value, as it is. */
	ASN1_STRING *value = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
	int ok = value && token_len <= INT_MAX && ASN1_STRING_set(value, token, (int)token_len) &&
	         PKCS7_add_attribute(si, nid, V_ASN1_SEQUENCE, value);
	if (!ok)
		ASN1_STRING_free(value);
	free(token);
	return ok ? 0 : csod_fail_ssl(err, "cannot add the timestamp");
}
