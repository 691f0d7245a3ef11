#include "timestamp.h"

#include "curl_runtime.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/ts.h>

#define TSA_RESPONSE_MAX (1 << 20)

typedef struct response_buf {
	unsigned char *data;
	size_t len;
	int too_big;
} response_buf;

static size_t collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
	response_buf *b = arg;
	size_t n = size * nmemb;
	if (b->len + n > TSA_RESPONSE_MAX) {
		b->too_big = 1;
		return 0;
	}
	unsigned char *grown = realloc(b->data, b->len + n);
	if (!grown)
		return 0;
	b->data = grown;
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	return n;
}

static TS_REQ *make_request(const EVP_MD *md, const unsigned char *data, size_t len,
                            ASN1_INTEGER **nonce_out)
{
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned hash_len = 0;
	EVP_Digest(data, len, hash, &hash_len, md, NULL);
	TS_REQ *req = TS_REQ_new();
	TS_MSG_IMPRINT *imprint = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *nonce = ASN1_INTEGER_new();
	unsigned char rnd[8];
	RAND_bytes(rnd, sizeof rnd);
	rnd[0] &= 0x7f;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | rnd[i];
	int ok = req && imprint && alg && nonce && TS_REQ_set_version(req, 1) &&
	         X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL) &&
	         TS_MSG_IMPRINT_set_algo(imprint, alg) &&
	         TS_MSG_IMPRINT_set_msg(imprint, hash, (int)hash_len) &&
	         TS_REQ_set_msg_imprint(req, imprint) && ASN1_INTEGER_set_uint64(nonce, v) &&
	         TS_REQ_set_nonce(req, nonce) && TS_REQ_set_cert_req(req, 1);
	TS_MSG_IMPRINT_free(imprint);
	X509_ALGOR_free(alg);
	if (!ok) {
		TS_REQ_free(req);
		ASN1_INTEGER_free(nonce);
		return NULL;
	}
	*nonce_out = nonce;
	return req;
}

/* One HTTP round trip. Returns 0, 1 for "worth retrying", -1 for final. */
static int post(const char *url, const unsigned char *der, int der_len, int timeout_s,
                response_buf *resp, csod_error *err)
{
	const csod_curl_api *c = csod_curl_load(err);
	if (!c)
		return -1;
	CURL *curl = c->easy_init();
	if (!curl)
		return csod_fail(err, "%s: cannot start an HTTP client", url);
	struct curl_slist *headers =
	    c->slist_append(NULL, "Content-Type: application/timestamp-query");
	c->easy_setopt(curl, CURLOPT_URL, url);
	c->easy_setopt(curl, CURLOPT_POSTFIELDS, der);
	c->easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)der_len);
	c->easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	c->easy_setopt(curl, CURLOPT_TIMEOUT, (long)(timeout_s > 0 ? timeout_s : 10));
	c->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	c->easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	c->easy_setopt(curl, CURLOPT_WRITEDATA, resp);
	c->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLcode rc = c->easy_perform(curl);
	long status = 0;
	c->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	c->slist_free_all(headers);
	c->easy_cleanup(curl);
	if (rc != CURLE_OK) {
		csod_fail(err, "timestamp authority %s: %s", url,
		          resp->too_big ? "answer too large" : c->easy_strerror(rc));
		return resp->too_big ? -1 : 1;
	}
	if (status != 200) {
		csod_fail(err, "timestamp authority %s answered HTTP %ld", url, status);
		return status >= 500 ? 1 : -1;
	}
	return 0;
}

static int check_response(const char *url, const unsigned char *data, size_t len,
                          ASN1_INTEGER *nonce, const unsigned char *hash, unsigned hash_len,
                          unsigned char **token_der, size_t *token_len, csod_error *err)
{
	const unsigned char *p = data;
	TS_RESP *resp = d2i_TS_RESP(NULL, &p, (long)len);
	if (!resp)
		return csod_fail(err,
		                 "timestamp authority %s: the answer is not a timestamp "
		                 "response",
		                 url);
	int rc = -1;
	TS_STATUS_INFO *si = TS_RESP_get_status_info(resp);
	long status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si));
	TS_TST_INFO *info = TS_RESP_get_tst_info(resp);
	PKCS7 *token = TS_RESP_get_token(resp);
	if (status != 0 && status != 1) {
		csod_fail(err, "timestamp authority %s refused the request (status %ld)", url,
		          status);
	} else if (!info || !token) {
		csod_fail(err, "timestamp authority %s: the answer holds no token", url);
	} else if (!TS_TST_INFO_get_nonce(info) ||
	           ASN1_INTEGER_cmp(TS_TST_INFO_get_nonce(info), nonce) != 0) {
		csod_fail(err, "timestamp authority %s: the answer is for another request (nonce)",
		          url);
	} else {
		ASN1_OCTET_STRING *msg = TS_MSG_IMPRINT_get_msg(TS_TST_INFO_get_msg_imprint(info));
		if (!msg || ASN1_STRING_length(msg) != (int)hash_len ||
		    memcmp(ASN1_STRING_get0_data(msg), hash, hash_len) != 0) {
			csod_fail(err, "timestamp authority %s stamped another hash", url);
		} else {
			unsigned char *der = NULL;
			int n = i2d_PKCS7(token, &der);
			if (n > 0) {
				*token_der = malloc((size_t)n);
				if (*token_der) {
					memcpy(*token_der, der, (size_t)n);
					*token_len = (size_t)n;
					rc = 0;
				}
			}
			OPENSSL_free(der);
			if (rc < 0)
				csod_fail(err, "cannot encode the timestamp token");
		}
	}
	TS_RESP_free(resp);
	return rc;
}

int csod_tsa_stamp(const char *url, const EVP_MD *md, const unsigned char *data, size_t len,
                   int timeout_s, int retries, unsigned char **token_der, size_t *token_len,
                   csod_error *err)
{
	ASN1_INTEGER *nonce = NULL;
	TS_REQ *req = make_request(md, data, len, &nonce);
	unsigned char *der = NULL;
	int der_len = req ? i2d_TS_REQ(req, &der) : -1;
	TS_REQ_free(req);
	if (der_len <= 0) {
		ASN1_INTEGER_free(nonce);
		return csod_fail(err, "cannot build a timestamp request");
	}
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned hash_len = 0;
	EVP_Digest(data, len, hash, &hash_len, md, NULL);
	int rc = -1;
	long backoff_ms = 500;
	for (int attempt = 0; attempt <= retries; attempt++) {
		if (attempt > 0) {
			struct timespec ts = {backoff_ms / 1000, (backoff_ms % 1000) * 1000000};
			nanosleep(&ts, NULL);
			backoff_ms *= 2;
		}
		response_buf resp = {NULL, 0, 0};
		int sent = post(url, der, der_len, timeout_s, &resp, err);
		if (sent == 0)
			rc = check_response(url, resp.data, resp.len, nonce, hash, hash_len,
			                    token_der, token_len, err);
		free(resp.data);
		if (sent <= 0)
			break;
	}
	OPENSSL_free(der);
	ASN1_INTEGER_free(nonce);
	return rc;
}
