/* What the two timestamp protocols (timestamp.c, timestamp_legacy.c) share:
 * one HTTP POST, the TSA trust store, and the walk over the servers. */
#ifndef CSOD_TSA_CLIENT_H
#define CSOD_TSA_CLIENT_H

#include <stddef.h>

#include <openssl/x509.h>

#include "../../lib/error.h"
#include "../signer.h"

#define CSOD_TSA_REPLY_MAX (1 << 20)

typedef struct csod_tsa_reply {
	unsigned char *data; /* malloc'd */
	size_t len;
	int too_big;
} csod_tsa_reply;

/* One POST of body with that Content-Type. Returns 0 with the answer's
 * body (HTTP 200), 1 when worth retrying (no connection, timeout, 5xx),
 * -1 when not; err says why. */
int csod_tsa_post(const char *url, const char *content_type, const unsigned char *body, size_t len,
                  int timeout_s, csod_tsa_reply *reply, csod_error *err);

/* A store of t->ca_file's certificates, or of the system's roots without
 * one; purpose timeStamping. NULL with the reason in err. */
X509_STORE *csod_tsa_trust(const csod_timestamp_options *t, csod_error *err);

/* Asks one server: 0 when it gave a good stamp, 1 when worth asking it
 * again, -1 when it failed (ask the next); err says why. */
typedef int (*csod_tsa_ask_fn)(void *ctx, const char *url, csod_error *err);

/* Walks t->urls (see timestamp.h for the contract and the returns). */
int csod_tsa_failover(const csod_timestamp_options *t, const char *protocol, csod_tsa_ask_fn ask,
                      void *ctx, csod_error *err);

#endif
