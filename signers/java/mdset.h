/* A set of running digests over the same bytes (a JAR entry's content under
 * each digest its manifest section names). The contexts and the fetched
 * algorithms are kept from one entry to the next: an archive has thousands
 * of small entries, and OpenSSL 3 would otherwise look the algorithm up
 * (under a lock) at every start. */
#ifndef CSOD_MDSET_H
#define CSOD_MDSET_H

#include <stddef.h>

#include <openssl/evp.h>

#include "../../lib/error.h"
#include "../signer.h"

#define CSOD_MDSET_MAX (2 * CSOD_MAX_DIGESTS) /* ours + ones already in a section */

typedef struct csod_mdset {
	EVP_MD_CTX *ctx[CSOD_MDSET_MAX];
	const EVP_MD *asked[CSOD_MDSET_MAX]; /* as the caller named it */
	EVP_MD *fetched[CSOD_MDSET_MAX];
	int n;
} csod_mdset;

/* Zero-initialise a csod_mdset before its first start. */
int csod_mdset_start(csod_mdset *s, const EVP_MD *const *md, int n, csod_error *err);
/* A csod_zip_sink: feeds every running digest. */
int csod_mdset_feed(void *s, const unsigned char *data, size_t len);
int csod_mdset_finish(csod_mdset *s, unsigned char out[][EVP_MAX_MD_SIZE], csod_error *err);
void csod_mdset_free(csod_mdset *s);

#endif
