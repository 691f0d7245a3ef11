/* Unpacking one entry's content from its compressed bytes, fed in pieces
 * by whoever reads them: the reader (csod_zip_read_entry) or a pass that
 * also copies the same bytes into the signed archive, so that an entry is
 * read from disk once for everything done with it. Checks as it goes: the
 * deflate stream, the declared size (zip bomb: stops as soon as the
 * output passes it) and, at the end, the size and CRC-32. */
#ifndef CSOD_ZIP_UNPACK_H
#define CSOD_ZIP_UNPACK_H

#include <stddef.h>

#include <zlib.h>

#include "zip_read.h"

#define CSOD_ZIP_UNPACK_OUT (256u * 1024u) /* inflate output per call */

typedef struct csod_zip_unpack {
	const csod_zip_entry *e;
	csod_zip_sink sink;
	void *ctx;
	z_stream s;
	int inflating, ended;
	uint64_t fed, produced;
	uLong crc;
	unsigned char *out; /* for deflated entries: out_len bytes */
	size_t out_len;
} csod_zip_unpack;

/* Starts entry e; sink (may be NULL) receives the uncompressed content. */
int csod_zip_unpack_begin(csod_zip_unpack *u, const csod_zip_entry *e, csod_zip_sink sink,
                          void *ctx, csod_error *err);
/* The next len bytes of the entry's compressed data, in order. */
int csod_zip_unpack_feed(csod_zip_unpack *u, const unsigned char *data, size_t len,
                         csod_error *err);
/* All compressed bytes fed: checks the stream ended, the size, the CRC. */
int csod_zip_unpack_end(csod_zip_unpack *u, csod_error *err);
/* Frees what begin allocated; safe after end, after a failure, twice. */
void csod_zip_unpack_free(csod_zip_unpack *u);

#endif
