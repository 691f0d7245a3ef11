/* Timestamps for every engine that adds one to its signature (the token
 * goes where each format wants it): RFC 3161, and Microsoft's legacy
 * Authenticode protocol for old Windows. Each asks the servers in t->urls
 * in order (t->retries extra attempts each on a connection failure or HTTP
 * 5xx) until one gives a stamp that checks out; a server whose answer does
 * not (another nonce or hash, a signer that does not chain to the TSA trust
 * store, garbage) counts as failed and the next is asked. Which server
 * answered, and why others did not, goes to t->note.
 *
 * Both return 1 with the stamp, 0 when no server gave one and none is
 * required (noted as a warning: the signature goes without), and -1 with
 * every server's reason in err. */
#ifndef CSOD_TIMESTAMP_H
#define CSOD_TIMESTAMP_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/pkcs7.h>

#include "../../lib/error.h"
#include "../signer.h"

/* Whether t asks for timestamps at all. */
int csod_timestamp_wanted(const csod_timestamp_options *t);

/* Tells t->note (if any) msg at a syslog level. */
void csod_timestamp_note(const csod_timestamp_options *t, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* For engines that only know RFC 3161 (hash, JAR, APK v1): fails with a
 * reason when t asks for the legacy Authenticode protocol. */
int csod_timestamp_rfc3161_only(const csod_timestamp_options *t, const char *format,
                                csod_error *err);

/* RFC 3161: a TimeStampToken over md(data), sent with a random nonce and
 * certReq; the answer must be granted, carry our nonce and imprint, and be
 * signed by a certificate with the timeStamping usage that chains to
 * t->ca_file (or the system's roots). *token_der: the DER ContentInfo,
 * malloc'd. */
int csod_timestamp_rfc3161(const csod_timestamp_options *t, const EVP_MD *md,
                           const unsigned char *data, size_t len, unsigned char **token_der,
                           size_t *token_len, csod_error *err);

/* The RFC 3161 token over si's signature value (SHA-256 imprint) added to
 * si as the unsigned attribute nid: Authenticode's (1.3.6.1.4.1.311.3.3.1)
 * or signatureTimeStampToken (JAR). 0 when added, or when none was had and
 * none is required (t records why); -1 with err set. */
int csod_timestamp_signer_info(PKCS7_SIGNER_INFO *si, int nid, const csod_timestamp_options *t,
                               csod_error *err);

/* Legacy Authenticode: the TSA's PKCS#7 SignedData over sig (a signer
 * info's signature value), whose one signer info becomes that signer
 * info's counter-signature. The reply must carry sig as its content and be
 * signed, by a certificate with the timeStamping usage that chains to the
 * TSA trust store, over attributes whose messageDigest is sig's digest. */
int csod_timestamp_authenticode(const csod_timestamp_options *t, const unsigned char *sig,
                                size_t len, PKCS7 **reply, csod_error *err);

#endif
