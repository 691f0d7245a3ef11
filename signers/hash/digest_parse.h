/* The input of hash signing: a small text file holding one hex digest, bare
 * or as sha256sum/md5sum ("<hex>  name", "<hex> *name") or BSD ("SHA256
 * (name) = <hex>") print it; or several such lines, each naming a file
 * (a SHA256SUMS list), each signed on its own. */
#ifndef CSOD_DIGEST_PARSE_H
#define CSOD_DIGEST_PARSE_H

#include <stddef.h>

#include "../../lib/error.h"

#define CSOD_DIGEST_FILE_MAX 4096

typedef struct csod_parsed_digest {
	char algorithm[8]; /* md5 sha1 sha256 sha384 sha512 */
	unsigned char value[64];
	size_t len;
	/* The file the line names ("" when bare); only a list's lines are
	 * held to be one file name (checked by csod_digest_list). */
	char file[256];
	size_t file_len; /* as written: more than fits in file means cut */
} csod_parsed_digest;

/* One digest file holding one digest. name (may be NULL) gives the
 * algorithm by its extension (.md5 .sha1 .sha256 .sha384 .sha512);
 * otherwise the digest's length does. A file of several lines is refused
 * here: csod_digest_list takes those. */
int csod_digest_parse(const char *text, size_t len, const char *name, csod_parsed_digest *out,
                      csod_error *err);

/* One line of a list. */
typedef struct csod_digest_line {
	int line;         /* its number in the file, from 1 */
	const char *text; /* the line in the caller's text, without its newline */
	size_t len;
	csod_parsed_digest digest; /* digest.file: a plain file name */
} csod_digest_line;

/* A digest file of several lines, each of which must name a file: a bare
 * file name (no '/', not "." or "..", UTF-8 without control characters,
 * short enough for "<name>.p7s"), each name once. Sets *n to the number
 * of digest lines and, when there are two or more, *lines to them
 * (malloc'd; the caller frees). One line or none: *n is 0 or 1 and
 * *lines NULL, the file being csod_digest_parse's. Refusals name the first
 * bad line. */
int csod_digest_list(const char *text, size_t len, const char *name, csod_digest_line **lines,
                     int *n, csod_error *err);

#endif
