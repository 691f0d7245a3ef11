/* RFC 3161 time-stamping over HTTP, for every engine that adds a
 * timestamp to its signature (the token goes where each format wants it). */
#ifndef CSOD_TIMESTAMP_H
#define CSOD_TIMESTAMP_H

#include <stddef.h>

#include <openssl/evp.h>

#include "../../lib/error.h"

/* Asks the TSA at url to stamp hash(data) (md names the hash), with a random
 * nonce and certReq; checks the status, nonce and message imprint of the
 * answer; returns the DER TimeStampToken (a ContentInfo), malloc'd. Retries
 * `retries` times with backoff on connection failures and 5xx answers. */
int csod_tsa_stamp(const char *url, const EVP_MD *md, const unsigned char *data, size_t len,
                   int timeout_s, int retries, unsigned char **token_der, size_t *token_len,
                   csod_error *err);

#endif
