/* The input of hash signing: a small text file holding one hex digest, bare
 * or as sha256sum/md5sum ("<hex>  name", "<hex> *name") or BSD ("SHA256
 * (name) = <hex>") print it. */
#ifndef CSOD_DIGEST_PARSE_H
#define CSOD_DIGEST_PARSE_H

#include <stddef.h>

#include "../../lib/error.h"

#define CSOD_DIGEST_FILE_MAX 4096

typedef struct csod_parsed_digest {
	char algorithm[8]; /* md5 sha1 sha256 sha384 sha512 */
	unsigned char value[64];
	size_t len;
} csod_parsed_digest;

/* name (may be NULL) gives the algorithm by its extension (.md5 .sha1 .sha256
 * .sha384 .sha512); otherwise the digest's length does. */
int csod_digest_parse(const char *text, size_t len, const char *name, csod_parsed_digest *out,
                      csod_error *err);

#endif
