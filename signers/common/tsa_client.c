/* HTTP, trust store and failover for timestamps; see tsa_client.h. */
#include "tsa_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "curl_runtime.h"
#include "timestamp.h"

static size_t collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
	csod_tsa_reply *b = arg;
	size_t n = size * nmemb;
	if (b->len + n > CSOD_TSA_REPLY_MAX) {
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

int csod_tsa_post(const char *url, const char *content_type, const unsigned char *body, size_t len,
                  int timeout_s, csod_tsa_reply *reply, csod_error *err)
{
	const csod_curl_api *c = csod_curl_load(err);
	if (!c)
		return -1;
	CURL *curl = c->easy_init();
	if (!curl)
		return csod_fail(err, "cannot start an HTTP client");
	char header[128];
	snprintf(header, sizeof header, "Content-Type: %s", content_type);
	struct curl_slist *headers = c->slist_append(NULL, header);
	c->easy_setopt(curl, CURLOPT_URL, url);
	c->easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	c->easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)len);
	c->easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	c->easy_setopt(curl, CURLOPT_TIMEOUT, (long)(timeout_s > 0 ? timeout_s : 10));
	c->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	c->easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	c->easy_setopt(curl, CURLOPT_WRITEDATA, reply);
	c->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLcode rc = c->easy_perform(curl);
	long status = 0;
	c->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	c->slist_free_all(headers);
	c->easy_cleanup(curl);
	if (rc != CURLE_OK) {
		csod_fail(err, "%s", reply->too_big ? "answer too large" : c->easy_strerror(rc));
		return reply->too_big ? -1 : 1;
	}
	if (status != 200) {
		csod_fail(err, "answered HTTP %ld", status);
		return status >= 500 ? 1 : -1;
	}
	return 0;
}

X509_STORE *csod_tsa_trust(const csod_timestamp_options *t, csod_error *err)
{
	X509_STORE *store = X509_STORE_new();
	int ok = store != NULL;
	if (ok && t->ca_file && *t->ca_file)
		ok = X509_STORE_load_file(store, t->ca_file);
	else if (ok)
		ok = X509_STORE_set_default_paths(store);
	if (ok)
		ok = X509_STORE_set_purpose(store, X509_PURPOSE_TIMESTAMP_SIGN);
	if (!ok) {
		X509_STORE_free(store);
		csod_fail_ssl(err, "cannot load the timestamp authorities' trust store %s",
		              t->ca_file && *t->ca_file ? t->ca_file : "(the system's roots)");
		return NULL;
	}
	return store;
}

/* Asks one server, again after a back-off while it is worth it. */
static int ask_server(const csod_timestamp_options *t, const char *url, csod_tsa_ask_fn ask,
                      void *ctx, csod_error *err)
{
	long backoff_ms = 500;
	int rc = -1;
	for (int attempt = 0; attempt <= t->retries; attempt++) {
		if (attempt > 0) {
			struct timespec ts = {backoff_ms / 1000, (backoff_ms % 1000) * 1000000};
			nanosleep(&ts, NULL);
			backoff_ms *= 2;
		}
		rc = ask(ctx, url, err);
		if (rc <= 0)
			break;
	}
	return rc == 0 ? 0 : -1;
}

int csod_tsa_failover(const csod_timestamp_options *t, const char *protocol, csod_tsa_ask_fn ask,
                      void *ctx, csod_error *err)
{
	/* Every server's reason, for the error when none answered. */
	char reasons[sizeof err->msg] = "";
	size_t used = 0;
	for (int i = 0; i < t->n_urls; i++) {
		const char *url = t->urls[i];
		csod_error why = {.msg = ""};
		if (ask_server(t, url, ask, ctx, &why) == 0) {
			csod_timestamp_note(t, LOG_INFO, "timestamped (%s) by %s", protocol, url);
			return 1;
		}
		if (i + 1 < t->n_urls)
			csod_timestamp_note(t, LOG_WARNING,
			                    "timestamp authority %s failed: %s; trying %s", url,
			                    why.msg, t->urls[i + 1]);
		int n = snprintf(reasons + used, sizeof reasons - used, "%s%s: %s",
		                 used ? "; " : "", url, why.msg);
		if (n > 0)
			used = used + (size_t)n < sizeof reasons ? used + (size_t)n
			                                         : sizeof reasons - 1;
	}
	/* One server: "timestamp authority URL: reason", as before failover. */
	const char *what =
	    t->n_urls > 1 ? "no timestamp authority gave a timestamp: " : "timestamp authority ";
	if (t->required)
		return csod_fail(err, "%s%s", what, reasons);
	csod_timestamp_note(t, LOG_WARNING, "signed without a timestamp (%s): %s%s", protocol, what,
	                    reasons);
	return 0;
}
