/* Writing a cabinet again for deep signing; see deep_cab_write.h. */
#include "deep_cab_write.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../common/fileio.h"

#define CFFILE_FIXED 16
#define CFDATA_FIXED 8

static void put16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

/* The cabinet checksum (CSUMCompute): 32-bit words XORed, the tail as
 * one word with its bytes in reverse order. */
static uint32_t checksum(const unsigned char *p, size_t n, uint32_t seed)
{
	uint32_t sum = seed, tail = 0;
	size_t i = 0;
	for (; i + 4 <= n; i += 4)
		sum ^= (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
		       (uint32_t)p[i + 3] << 24;
	for (; i < n; i++)
		tail = tail << 8 | p[i];
	return sum ^ tail;
}

/* One block of ulen bytes in raw, as MSZIP ("CK" and a deflate stream of
 * its own) or stored, into out (with its 8-byte CFDATA header). */
static int block(const unsigned char *raw, size_t ulen, uint16_t type, unsigned char *out,
                 size_t room, size_t *len, csod_error *err)
{
	unsigned char *d = out + CFDATA_FIXED;
	size_t clen = ulen;
	if ((type & 0x0f) == CSOD_CAB_MSZIP) {
		z_stream z;
		memset(&z, 0, sizeof z);
		if (deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			return csod_fail(err, "cannot start deflating");
		d[0] = 'C';
		d[1] = 'K';
		z.next_in = (unsigned char *)raw;
		z.avail_in = (uInt)ulen;
		z.next_out = d + 2;
		z.avail_out = (uInt)(room - CFDATA_FIXED - 2);
		int zr = deflate(&z, Z_FINISH);
		clen = 2 + z.total_out;
		deflateEnd(&z);
		if (zr != Z_STREAM_END || clen > 0xffff)
			return csod_fail(err, "cannot deflate a block");
	} else {
		memcpy(d, raw, ulen);
	}
	put16(out + 4, (uint32_t)clen);
	put16(out + 6, (uint32_t)ulen);
	put32(out, checksum(out + 4, 4, checksum(d, clen, 0)));
	*len = CFDATA_FIXED + clen;
	return 0;
}

int csod_dcab_pack(int content_fd, uint64_t len, csod_dcab_packed *p, csod_error *err)
{
	size_t room = CFDATA_FIXED + 2 + deflateBound(NULL, CSOD_CAB_BLOCK) + 64;
	unsigned char *raw = malloc(CSOD_CAB_BLOCK), *out = malloc(room);
	int rc = raw && out ? 0 : csod_fail(err, "out of memory");
	p->data_len = 0;
	p->blocks = 0;
	for (uint64_t at = 0; rc == 0 && at < len; at += CSOD_CAB_BLOCK) {
		size_t n = len - at < CSOD_CAB_BLOCK ? (size_t)(len - at) : CSOD_CAB_BLOCK,
		       olen = 0;
		if (p->blocks == 0xffff)
			rc = csod_fail(err, "a folder would need more than 65535 blocks");
		else if (pread(content_fd, raw, n, (off_t)at) != (ssize_t)n)
			rc = csod_fail_errno(err, "cannot read a folder's content back");
		else if (block(raw, n, p->type, out, room, &olen, err) < 0 ||
		         csod_pwrite_all(p->data_fd, out, olen, (off_t)p->data_len, err) < 0)
			rc = -1;
		p->data_len += olen;
		p->blocks++;
	}
	free(raw);
	free(out);
	return rc;
}

/* len bytes of from (at offset 0) onto the end of to, at *at. */
static int append(int to, uint64_t *at, int from, uint64_t len, csod_error *err)
{
	unsigned char buf[64 * 1024];
	for (uint64_t off = 0; off < len;) {
		size_t n = len - off < sizeof buf ? (size_t)(len - off) : sizeof buf;
		if (pread(from, buf, n, (off_t)off) != (ssize_t)n)
			return csod_fail_errno(err, "cannot read a folder's blocks back");
		if (csod_pwrite_all(to, buf, n, (off_t)(*at + off), err) < 0)
			return -1;
		off += n;
	}
	*at += len;
	return 0;
}

int csod_dcab_write(int out_fd, const csod_dcab *in, const csod_dcab_file *files,
                    const csod_dcab_packed *folders, csod_error *err)
{
	uint16_t nfo = in->cab.n_folders, nfi = in->cab.n_files;
	uint64_t tables = CAB_HEADER_SIZE + (uint64_t)nfo * CAB_FOLDER_SIZE, coff_files = tables;
	for (uint16_t i = 0; i < nfi; i++)
		tables += CFFILE_FIXED + strlen(files[i].name) + 1;
	uint64_t total = tables;
	for (uint16_t i = 0; i < nfo; i++)
		total += folders[i].data_len;
	if (total > UINT32_MAX)
		return csod_fail(err, "the cabinet would be over 4 GB");
	unsigned char *t = calloc(1, (size_t)tables);
	if (!t)
		return csod_fail(err, "out of memory");
	memcpy(t, "MSCF", 4);
	put32(t + 8, (uint32_t)total);
	put32(t + 16, (uint32_t)coff_files);
	t[24] = 3; /* version 1.3 */
	t[25] = 1;
	put16(t + 26, nfo);
	put16(t + 28, nfi);
	put16(t + 32, in->set_id);
	put16(t + 34, in->icabinet);
	uint64_t data_at = tables;
	for (uint16_t i = 0; i < nfo; i++) {
		unsigned char *f = t + CAB_HEADER_SIZE + (size_t)i * CAB_FOLDER_SIZE;
		put32(f, (uint32_t)data_at);
		put16(f + 4, folders[i].blocks);
		put16(f + 6, folders[i].type);
		data_at += folders[i].data_len;
	}
	unsigned char *e = t + coff_files;
	for (uint16_t i = 0; i < nfi; i++) {
		const csod_dcab_file *f = &files[i];
		put32(e, f->size);
		put32(e + 4, f->offset);
		put16(e + 8, f->folder);
		put16(e + 10, f->date);
		put16(e + 12, f->time);
		put16(e + 14, f->attribs);
		size_t n = strlen(f->name) + 1;
		memcpy(e + CFFILE_FIXED, f->name, n);
		e += CFFILE_FIXED + n;
	}
	int rc = csod_pwrite_all(out_fd, t, (size_t)tables, 0, err);
	free(t);
	uint64_t at = tables;
	for (uint16_t i = 0; rc == 0 && i < nfo; i++)
		rc = append(out_fd, &at, folders[i].data_fd, folders[i].data_len, err);
	return rc;
}
