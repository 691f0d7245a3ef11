/* Incremental entry unpacking; see zip_unpack.h. */
#include "zip_unpack.h"

#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>

int csod_zip_unpack_begin(csod_zip_unpack *u, const csod_zip_entry *e, csod_zip_sink sink,
                          void *ctx, csod_error *err)
{
	memset(u, 0, sizeof *u);
	u->e = e;
	u->sink = sink;
	u->ctx = ctx;
	u->crc = crc32(0, NULL, 0);
	if (e->method != 8)
		return 0;
	/* Inflating into a buffer of a quarter megabyte: few calls into zlib
	 * and into the sink (the digests) per entry. */
	u->out_len =
	    e->usize < CSOD_ZIP_UNPACK_OUT ? (e->usize ? e->usize : 1) : CSOD_ZIP_UNPACK_OUT;
	if (!(u->out = malloc(u->out_len)))
		return csod_fail(err, "out of memory");
	if (inflateInit2(&u->s, -MAX_WBITS) != Z_OK) {
		free(u->out);
		u->out = NULL;
		return csod_fail(err, "cannot start inflating");
	}
	u->inflating = 1;
	return 0;
}

static int deliver(csod_zip_unpack *u, const unsigned char *data, size_t len, csod_error *err)
{
	u->produced += len;
	if (u->produced > u->e->usize)
		return csod_fail(err,
		                 "entry '%.200s' inflates past its declared size: refused as a zip "
		                 "bomb",
		                 u->e->name);
	/* libdeflate's CRC-32 uses the CPU's carry-less multiply: several
	 * times zlib's table speed, and checking every entry's CRC is on the
	 * critical path of signing and self-checking a large APK. */
	u->crc = libdeflate_crc32((uint32_t)u->crc, data, len);
	if (len && u->sink && u->sink(u->ctx, data, len) < 0)
		return csod_fail(err, "entry '%.200s': cannot process its content", u->e->name);
	return 0;
}

int csod_zip_unpack_feed(csod_zip_unpack *u, const unsigned char *data, size_t len, csod_error *err)
{
	if (len > u->e->csize - u->fed)
		return csod_fail(err, "entry '%.200s': more data than its compressed size",
		                 u->e->name);
	u->fed += len;
	if (!u->inflating)
		return deliver(u, data, len, err);
	/* Bytes after the end of the deflate stream are ignored, as zip
	 * readers do (the v2 digest still covers them, as copied). */
	u->s.next_in = (unsigned char *)data;
	u->s.avail_in = 0;
	int out_full = 0;
	while (!u->ended) {
		if (u->s.avail_in == 0 && len) {
			/* avail_in is 32 bits: at most 1 GB at a time */
			size_t n = len < (1u << 30) ? len : (1u << 30);
			u->s.avail_in = (uInt)n;
			len -= n;
		}
		if (u->s.avail_in == 0 && !out_full)
			break;
		u->s.next_out = u->out;
		u->s.avail_out = (uInt)u->out_len;
		int zr = inflate(&u->s, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return csod_fail(err, "entry '%.200s': corrupt deflate data", u->e->name);
		u->ended = zr == Z_STREAM_END;
		out_full = u->s.avail_out == 0;
		size_t got = u->out_len - u->s.avail_out;
		if (deliver(u, u->out, got, err) < 0)
			return -1;
	}
	return 0;
}

int csod_zip_unpack_end(csod_zip_unpack *u, csod_error *err)
{
	const csod_zip_entry *e = u->e;
	int rc = 0;
	if (u->fed != e->csize)
		rc = csod_fail(err, "entry '%.200s': compressed data ends early", e->name);
	else if (u->inflating && !u->ended)
		rc = csod_fail(err, "entry '%.200s': compressed data ends early", e->name);
	else if (u->produced != e->usize)
		rc = csod_fail(err, "entry '%.200s' is shorter than its declared size", e->name);
	else if (u->crc != e->crc)
		rc = csod_fail(err, "entry '%.200s' fails its CRC-32 check", e->name);
	csod_zip_unpack_free(u);
	return rc;
}

void csod_zip_unpack_free(csod_zip_unpack *u)
{
	if (u->inflating)
		inflateEnd(&u->s);
	u->inflating = 0;
	free(u->out);
	u->out = NULL;
}
