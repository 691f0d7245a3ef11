/* ZIP re-packing writer; see zip_write.h. */
#include "zip_write.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "../common/fileio.h"

#define LOCAL_LEN       30u
#define ALIGN_EXTRA_ID  0xd935u /* Android's alignment extra field */
#define ZIP64_EXTRA_ID  0x0001u
#define FLAG_DESCRIPTOR 0x0008u
#define FLAG_UTF8       0x0800u
#define COPY_CHUNK      (256u * 1024u)

void csod_zip_out_init(csod_zip_out *o, int fd)
{
	memset(o, 0, sizeof *o);
	o->fd = fd;
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	o->dos_time = (uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
	o->dos_date = (uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
}

void csod_zip_out_free(csod_zip_out *o)
{
	csod_buf_free(&o->cd);
	csod_big_free(o->copy_buf, COPY_CHUNK);
	o->copy_buf = NULL;
}

/* n more bytes went out. */
static int advance(csod_zip_out *o, size_t n, csod_error *err)
{
	o->pos += n;
	if (!o->stage)
		csod_write_back(o->fd, &o->written_back, o->pos);
	if (o->pos > 0xffffffffu)
		return csod_fail(err,
		                 "the signed archive would need ZIP64, which is not supported");
	return 0;
}

int csod_zip_out_write(csod_zip_out *o, const void *data, size_t len, csod_error *err)
{
	if (o->stage) {
		if (len)
			o->stage->put(o->stage->ctx, data, len);
	} else if (csod_pwrite_all(o->fd, data, len, (off_t)o->pos, err) < 0) {
		return -1;
	}
	return advance(o, len, err);
}

/* Keeps a local extra field only if it is a well-formed list of fields,
 * dropping an old alignment field (we add our own). */
static size_t clean_extra(unsigned char *x, size_t len, int drop_zip64)
{
	size_t in = 0, out = 0;
	while (in + 4 <= len) {
		uint16_t id = csod_le16(x + in), sz = csod_le16(x + in + 2);
		if (sz > len - in - 4)
			return 0;
		if (id != ALIGN_EXTRA_ID && id != 0 && !(drop_zip64 && id == ZIP64_EXTRA_ID)) {
			memmove(x + out, x + in, 4u + sz);
			out += 4u + sz;
		}
		in += 4u + sz;
	}
	return in == len ? out : 0;
}

struct entry_header {
	const char *name;
	uint16_t name_len, version_made, version_needed, flags, method, mtime, mdate;
	uint32_t crc, csize, usize;
	uint16_t internal_attr;
	uint32_t external_attr;
	const unsigned char *cd_extra, *comment;
	uint16_t cd_extra_len, comment_len;
};

static int write_headers(csod_zip_out *o, const struct entry_header *h, unsigned char *extra,
                         size_t extra_len, unsigned align, csod_error *err)
{
	uint64_t local_offset = o->pos;
	if (align > 1) {
		uint64_t data = o->pos + LOCAL_LEN + h->name_len + extra_len;
		if (data % align) {
			size_t pad = (size_t)((align - (data + 6) % align) % align);
			if (extra_len + 6 + pad > 65535)
				return csod_fail(err, "entry '%.200s': extra field too long",
				                 h->name);
			csod_put16(extra + extra_len, ALIGN_EXTRA_ID);
			csod_put16(extra + extra_len + 2, (uint16_t)(2 + pad));
			csod_put16(extra + extra_len + 4, (uint16_t)(align > 65535 ? 0 : align));
			memset(extra + extra_len + 6, 0, pad);
			extra_len += 6 + pad;
		}
	}
	uint16_t flags = h->flags & ~FLAG_DESCRIPTOR;
	unsigned char l[LOCAL_LEN];
	csod_put32(l, 0x04034b50u);
	csod_put16(l + 4, h->version_needed);
	csod_put16(l + 6, flags);
	csod_put16(l + 8, h->method);
	csod_put16(l + 10, h->mtime);
	csod_put16(l + 12, h->mdate);
	csod_put32(l + 14, h->crc);
	csod_put32(l + 18, h->csize);
	csod_put32(l + 22, h->usize);
	csod_put16(l + 26, h->name_len);
	csod_put16(l + 28, (uint16_t)extra_len);
	if (csod_zip_out_write(o, l, sizeof l, err) < 0 ||
	    csod_zip_out_write(o, h->name, h->name_len, err) < 0 ||
	    csod_zip_out_write(o, extra, extra_len, err) < 0)
		return -1;
	unsigned char c[46];
	csod_put32(c, 0x02014b50u);
	csod_put16(c + 4, h->version_made);
	memcpy(c + 6, l + 4, 26); /* version needed .. name length */
	csod_put16(c + 30, h->cd_extra_len);
	csod_put16(c + 32, h->comment_len);
	csod_put16(c + 34, 0);
	csod_put16(c + 36, h->internal_attr);
	csod_put32(c + 38, h->external_attr);
	csod_put32(c + 42, (uint32_t)local_offset);
	csod_buf_add(&o->cd, c, sizeof c);
	csod_buf_add(&o->cd, h->name, h->name_len);
	csod_buf_add(&o->cd, h->cd_extra, h->cd_extra_len);
	csod_buf_add(&o->cd, h->comment, h->comment_len);
	if (o->cd.oom)
		return csod_fail(err, "out of memory");
	if (++o->n_entries > 65534)
		return csod_fail(err, "too many entries (ZIP64 archives are not supported)");
	return 0;
}

int csod_zip_out_copy(csod_zip_out *o, const csod_zip *z, const csod_zip_entry *e, unsigned align,
                      csod_error *err)
{
	return csod_zip_out_copy_seen(o, z, e, align, NULL, NULL, err);
}

int csod_zip_out_copy_seen(csod_zip_out *o, const csod_zip *z, const csod_zip_entry *e,
                           unsigned align, csod_zip_sink seen, void *seen_ctx, csod_error *err)
{
	struct entry_header h = {e->name,          e->name_len, e->version_made, e->version_needed,
	                         e->flags,         e->method,   e->mtime,        e->mdate,
	                         e->crc,           e->csize,    e->usize,        e->internal_attr,
	                         e->external_attr, e->cd_extra, e->comment,      e->cd_extra_len,
	                         e->comment_len};
	size_t local_extra = (size_t)(e->data_offset - e->local_offset - LOCAL_LEN - e->name_len);
	unsigned char *extra = malloc(local_extra + 6 + 65536);
	if (!o->copy_buf && !o->stage)
		o->copy_buf = csod_big_alloc(COPY_CHUNK);
	unsigned char *buf = o->copy_buf;
	int rc = 0;
	if (!extra || (!buf && !o->stage))
		rc = csod_fail(err, "out of memory");
	if (rc == 0)
		rc = csod_zip_pread(z, extra, local_extra, e->data_offset - local_extra, err);
	if (o->bare)
		h.cd_extra_len = h.comment_len = 0;
	if (rc == 0) {
		local_extra = clean_extra(extra, local_extra, 0);
		rc = write_headers(o, &h, extra, local_extra, e->method == 0 ? align : 0, err);
	}
	for (uint64_t off = 0; rc == 0 && off < e->csize;) {
		size_t n = e->csize - off < COPY_CHUNK ? (size_t)(e->csize - off) : COPY_CHUNK;
		unsigned char *at = buf;
		if (o->stage) { /* read straight into the stage */
			size_t room;
			if (!(at = o->stage->room(o->stage->ctx, &room))) {
				rc = csod_fail(err, "out of memory");
				break;
			}
			n = n < room ? n : room;
		}
		rc = csod_zip_pread(z, at, n, e->data_offset + off, err);
		if (rc == 0 && o->stage) {
			o->stage->commit(o->stage->ctx, n);
			rc = advance(o, n, err);
		} else if (rc == 0) {
			rc = csod_zip_out_write(o, buf, n, err);
		}
		if (rc == 0 && seen && seen(seen_ctx, at, n) < 0)
			rc = -1; /* seen has set err */
		off += n;
	}
	free(extra);
	return rc;
}

/* Deflates (method 8) or just reads (stored) the len bytes of data_fd into
 * scratch_fd, for their sizes and CRC-32 before the local header. */
static int pack_content(const csod_zip_entry *e, int data_fd, uint64_t len, int scratch_fd,
                        unsigned char *buf, uint32_t *crc, uint64_t *csize, csod_error *err)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	int deflating = e->method == 8;
	if (deflating && deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
	                              Z_DEFAULT_STRATEGY) != Z_OK)
		return csod_fail(err, "out of memory");
	unsigned char *zout = buf + COPY_CHUNK / 2;
	uLong c = crc32(0, NULL, 0);
	uint64_t off = 0, out = 0;
	int rc = 0, flush = Z_NO_FLUSH;
	while (rc == 0 && (off < len || (deflating && flush != Z_FINISH))) {
		size_t n = len - off < COPY_CHUNK / 2 ? (size_t)(len - off) : COPY_CHUNK / 2;
		ssize_t got = n ? pread(data_fd, buf, n, (off_t)off) : 0;
		if (got < 0 || (size_t)got != n) {
			rc = csod_fail_errno(err, "cannot read the signed inner file");
			break;
		}
		c = crc32(c, buf, (uInt)n);
		off += n;
		if (!deflating)
			continue;
		flush = off == len ? Z_FINISH : Z_NO_FLUSH;
		zs.next_in = buf;
		zs.avail_in = (uInt)n;
		do {
			zs.next_out = zout;
			zs.avail_out = COPY_CHUNK / 2;
			if (deflate(&zs, flush) == Z_STREAM_ERROR) {
				rc = csod_fail(err, "deflate failed");
				break;
			}
			size_t made = COPY_CHUNK / 2 - zs.avail_out;
			rc = csod_pwrite_all(scratch_fd, zout, made, (off_t)out, err);
			out += made;
		} while (rc == 0 && zs.avail_out == 0);
	}
	if (deflating)
		deflateEnd(&zs);
	*crc = (uint32_t)c;
	*csize = deflating ? out : len;
	return rc;
}

int csod_zip_out_replace(csod_zip_out *o, const csod_zip *z, const csod_zip_entry *e, int data_fd,
                         uint64_t len, int scratch_fd, csod_error *err)
{
	if (!o->copy_buf && !(o->copy_buf = csod_big_alloc(COPY_CHUNK)))
		return csod_fail(err, "out of memory");
	uint32_t crc = 0;
	uint64_t csize = 0;
	if (pack_content(e, data_fd, len, scratch_fd, o->copy_buf, &crc, &csize, err) < 0)
		return -1;
	if (len > 0xfffffffeu || csize > 0xfffffffeu)
		return csod_fail(err, "entry '%.200s' would need ZIP64, which is not supported",
		                 e->name);
	size_t local_extra = (size_t)(e->data_offset - e->local_offset - LOCAL_LEN - e->name_len);
	unsigned char *extra = malloc(local_extra + 1);
	unsigned char *cd_extra = malloc(e->cd_extra_len + 1u);
	int rc = extra && cd_extra ? 0 : csod_fail(err, "out of memory");
	if (rc == 0)
		rc = csod_zip_pread(z, extra, local_extra, e->data_offset - local_extra, err);
	if (rc == 0) {
		local_extra = clean_extra(extra, local_extra, 1);
		memcpy(cd_extra, e->cd_extra, e->cd_extra_len);
		struct entry_header h = {e->name,
		                         e->name_len,
		                         e->version_made,
		                         e->version_needed,
		                         e->flags,
		                         e->method,
		                         e->mtime,
		                         e->mdate,
		                         crc,
		                         (uint32_t)csize,
		                         (uint32_t)len,
		                         e->internal_attr,
		                         e->external_attr,
		                         cd_extra,
		                         e->comment,
		                         (uint16_t)clean_extra(cd_extra, e->cd_extra_len, 1),
		                         e->comment_len};
		rc = write_headers(o, &h, extra, local_extra, 0, err);
	}
	int src = e->method == 8 ? scratch_fd : data_fd;
	for (uint64_t off = 0; rc == 0 && off < csize;) {
		size_t n = csize - off < COPY_CHUNK ? (size_t)(csize - off) : COPY_CHUNK;
		ssize_t got = pread(src, o->copy_buf, n, (off_t)off);
		rc = got == (ssize_t)n ? csod_zip_out_write(o, o->copy_buf, n, err)
		                       : csod_fail_errno(err, "cannot read the signed inner file");
		off += n;
	}
	free(extra);
	free(cd_extra);
	return rc;
}

int csod_zip_out_add(csod_zip_out *o, const char *name, const unsigned char *data, size_t len,
                     unsigned align, csod_error *err)
{
	if (len > 0xfffffffeu)
		return csod_fail(err, "%s is too large", name);
	struct entry_header h = {name,
	                         (uint16_t)strlen(name),
	                         20,
	                         10,
	                         FLAG_UTF8,
	                         0,
	                         o->dos_time,
	                         o->dos_date,
	                         (uint32_t)crc32(crc32(0, NULL, 0), data, (uInt)len),
	                         (uint32_t)len,
	                         (uint32_t)len,
	                         0,
	                         0,
	                         NULL,
	                         NULL,
	                         0,
	                         0};
	unsigned char extra[6 + 8192];
	if (write_headers(o, &h, extra, 0, align, err) < 0)
		return -1;
	return csod_zip_out_write(o, data, len, err);
}

void csod_zip_out_eocd(const csod_zip_out *o, uint64_t cd_offset, const unsigned char *comment,
                       uint16_t comment_len, csod_buf *out)
{
	unsigned char e[22];
	csod_put32(e, 0x06054b50u);
	csod_put16(e + 4, 0);
	csod_put16(e + 6, 0);
	csod_put16(e + 8, (uint16_t)o->n_entries);
	csod_put16(e + 10, (uint16_t)o->n_entries);
	csod_put32(e + 12, (uint32_t)o->cd.len);
	csod_put32(e + 16, (uint32_t)cd_offset);
	csod_put16(e + 20, comment_len);
	csod_buf_add(out, e, sizeof e);
	csod_buf_add(out, comment, comment_len);
}
