/* Reading a cabinet's files for deep signing; see deep_cab_read.h. */
#include "deep_cab_read.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#include "../../lib/text.h"
#include "../common/fileio.h"
#include "deep_entry.h"

#define CFFILE_FIXED 16
#define CFDATA_FIXED 8
#define MEGABYTE     (1024u * 1024u)
/* MSZIP's deflate of a block may outgrow its 32 KiB a little; more is not MSZIP. */
#define MAX_CDATA 65535u

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int read_at(int fd, void *buf, size_t len, uint64_t at, csod_error *err)
{
	ssize_t n = pread(fd, buf, len, (off_t)at);
	if (n != (ssize_t)len)
		return n < 0 ? csod_fail_errno(err, "cannot read the cabinet")
		             : csod_fail(err, "the cabinet is truncated");
	return 0;
}

static int read_folders(csod_dcab *c, csod_error *err)
{
	for (uint16_t i = 0; i < c->cab.n_folders; i++) {
		unsigned char f[CAB_FOLDER_SIZE], d[CFDATA_FIXED];
		csod_dcab_folder *fo = &c->folders[i];
		if (read_at(c->fd, f, sizeof f, c->cab.folders_at + (uint64_t)i * CAB_FOLDER_SIZE,
		            err) < 0)
			return -1;
		fo->data_at = le32(f);
		fo->blocks = le16(f + 4);
		fo->type = le16(f + 6);
		uint64_t pos = fo->data_at;
		for (uint16_t b = 0; b < fo->blocks; b++) {
			if (read_at(c->fd, d, sizeof d, pos, err) < 0)
				return -1;
			fo->csize += le16(d + 4);
			fo->usize += le16(d + 6);
			pos += CFDATA_FIXED + le16(d + 4);
		}
		if ((fo->type & 0x0f) != CSOD_CAB_NONE && (fo->type & 0x0f) != CSOD_CAB_MSZIP)
			return csod_fail(err,
			                 "folder %u is %s-compressed: deep signing takes "
			                 "uncompressed and MSZIP cabinets",
			                 i + 1, (fo->type & 0x0f) == 2 ? "Quantum" : "LZX");
	}
	return 0;
}

static int read_files(csod_dcab *c, csod_error *err)
{
	uint64_t pos = c->cab.coff_files;
	for (uint16_t i = 0; i < c->cab.n_files; i++) {
		unsigned char e[CFFILE_FIXED + CSOD_CAB_NAME_MAX + 1];
		ssize_t n = pread(c->fd, e, sizeof e, (off_t)pos);
		const unsigned char *nul =
		    n > CFFILE_FIXED ? memchr(e + CFFILE_FIXED, 0, (size_t)n - CFFILE_FIXED) : NULL;
		if (!nul)
			return csod_fail(err, "file entry %u has no terminated name", i + 1);
		csod_dcab_file *f = &c->files[i];
		f->size = le32(e);
		f->offset = le32(e + 4);
		f->folder = le16(e + 8);
		f->date = le16(e + 10);
		f->time = le16(e + 12);
		f->attribs = le16(e + 14);
		memcpy(f->name, e + CFFILE_FIXED, (size_t)(nul - e - CFFILE_FIXED) + 1);
		pos += (uint64_t)(nul - e) + 1;
	}
	return 0;
}

/* A name an unpacking tool writes below the folder it unpacks into and
 * nowhere else; '\' and '/' both separate. */
static int check_name(const char *name, csod_error *err)
{
	char shown[CSOD_SHOWN_MAX];
	csod_escape_to(name, shown, sizeof shown);
	if (!*name)
		return csod_fail(err, "a file in the cabinet has an empty name");
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return csod_fail(err, "file '%s' has a control character in its name",
			                 shown);
	if (strchr(name, ':'))
		return csod_fail(err, "file '%s' has a drive or stream name (':')", shown);
	if (*name == '\\' || *name == '/')
		return csod_fail(err, "file '%s' has an absolute name", shown);
	for (const char *p = name;;) {
		size_t len = strcspn(p, "\\/");
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return csod_fail(err, "file '%s' has an empty, '.' or '..' path component",
			                 shown);
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

/* Names as Windows compares them: case blind, '/' as '\'. */
static int name_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = *a == '/' ? '\\' : (unsigned char)*a,
		    y = *b == '/' ? '\\' : (unsigned char)*b;
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y || !x)
			return x - y;
	}
}

static int by_name(const void *a, const void *b)
{
	return name_cmp((*(const csod_dcab_file *const *)a)->name,
	                (*(const csod_dcab_file *const *)b)->name);
}

static int check_duplicates(const csod_dcab *c, csod_error *err)
{
	size_t n = c->cab.n_files;
	const csod_dcab_file **sorted = malloc((n ? n : 1) * sizeof *sorted);
	if (!sorted)
		return csod_fail(err, "out of memory");
	for (size_t i = 0; i < n; i++)
		sorted[i] = &c->files[i];
	qsort(sorted, n, sizeof *sorted, by_name);
	int rc = 0;
	for (size_t i = 1; rc == 0 && i < n; i++)
		if (name_cmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
			char shown[CSOD_SHOWN_MAX];
			csod_escape_to(sorted[i]->name, shown, sizeof shown);
			rc = csod_fail(err, "duplicate file name '%s' in the cabinet", shown);
		}
	free(sorted);
	return rc;
}

static int check_files(const csod_dcab *c, int64_t max_size, csod_error *err)
{
	uint64_t total = 0, *end = calloc(c->cab.n_folders + 1u, sizeof *end);
	if (!end)
		return csod_fail(err, "out of memory");
	int rc = 0;
	for (uint16_t i = 0; rc == 0 && i < c->cab.n_files; i++) {
		const csod_dcab_file *f = &c->files[i];
		char shown[CSOD_SHOWN_MAX];
		csod_escape_to(f->name, shown, sizeof shown);
		total += f->size;
		if (check_name(f->name, err) < 0)
			rc = -1;
		else if (i > 0 && f->folder < c->files[i - 1].folder)
			rc = csod_fail(err, "file '%s' is listed out of its folder's order", shown);
		else if (f->offset < end[f->folder])
			rc = csod_fail(err,
			               "file '%s' overlaps or precedes the file before it in "
			               "its folder",
			               shown);
		else if (max_size > 0 && total > (uint64_t)max_size)
			rc = csod_fail(err,
			               "files up to '%s' hold more than %lld bytes unpacked (the "
			               "limit for a file): refused as a cabinet bomb",
			               shown, (long long)max_size);
		end[f->folder] = (uint64_t)f->offset + f->size;
	}
	free(end);
	uint64_t unpacked = 0;
	for (uint16_t i = 0; rc == 0 && i < c->cab.n_folders; i++) {
		const csod_dcab_folder *fo = &c->folders[i];
		unpacked += fo->usize;
		if (max_size > 0 && unpacked > (uint64_t)max_size)
			rc = csod_fail(err,
			               "folders up to %u unpack to more than %lld bytes (the limit "
			               "for a file): refused as a cabinet bomb",
			               i + 1, (long long)max_size);
		else if (fo->usize > MEGABYTE &&
		         fo->usize / (fo->csize ? fo->csize : 1u) > CSOD_DEEP_MAX_RATIO)
			rc = csod_fail(err,
			               "folder %u shrinks more than %u:1 when compressed: refused "
			               "as a cabinet bomb",
			               i + 1, CSOD_DEEP_MAX_RATIO);
	}
	return rc == 0 ? check_duplicates(c, err) : rc;
}

int csod_dcab_open(csod_dcab *c, int fd, int64_t max_size, csod_error *err)
{
	memset(c, 0, sizeof *c);
	c->fd = fd;
	if (csod_cab_parse(fd, &c->cab, err) < 0)
		return -1;
	if (c->cab.n_files == 0)
		return csod_fail(err, "the cabinet holds no files");
	unsigned char h[CAB_HEADER_SIZE];
	if (read_at(fd, h, sizeof h, 0, err) < 0)
		return -1;
	c->set_id = le16(h + 32);
	c->icabinet = le16(h + 34);
	c->folders = calloc(c->cab.n_folders + 1u, sizeof *c->folders);
	c->files = calloc(c->cab.n_files + 1u, sizeof *c->files);
	if (!c->folders || !c->files) {
		csod_dcab_close(c);
		return csod_fail(err, "out of memory");
	}
	if (read_folders(c, err) < 0 || read_files(c, err) < 0 ||
	    check_files(c, max_size, err) < 0) {
		csod_dcab_close(c);
		return -1;
	}
	return 0;
}

void csod_dcab_close(csod_dcab *c)
{
	free(c->folders);
	free(c->files);
	c->folders = NULL;
	c->files = NULL;
}

/* One MSZIP block: "CK", then a deflate stream that may refer back to the
 * block before (dict, dict_len bytes), unpacking to exactly want bytes. */
static int inflate_block(const unsigned char *in, size_t len, const unsigned char *dict,
                         size_t dict_len, unsigned char *out, size_t want, csod_error *err)
{
	if (len < 2 || in[0] != 'C' || in[1] != 'K')
		return csod_fail(err, "an MSZIP block lacks its 'CK' signature");
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
		return csod_fail(err, "cannot start inflating");
	int rc = dict_len && inflateSetDictionary(&z, dict, (uInt)dict_len) != Z_OK ? -1 : 0;
	z.next_in = (unsigned char *)in + 2;
	z.avail_in = (uInt)(len - 2);
	z.next_out = out;
	z.avail_out = (uInt)want;
	int zr = rc == 0 ? inflate(&z, Z_FINISH) : Z_DATA_ERROR;
	if (zr != Z_STREAM_END || z.avail_out != 0)
		rc = csod_fail(err, "an MSZIP block does not unpack to its %zu bytes", want);
	inflateEnd(&z);
	return rc;
}

int csod_dcab_unpack(const csod_dcab *c, uint16_t i, int out_fd, csod_error *err)
{
	const csod_dcab_folder *fo = &c->folders[i];
	unsigned char *in = malloc(MAX_CDATA), *out = malloc(2 * CSOD_CAB_BLOCK);
	unsigned char *prev = out ? out + CSOD_CAB_BLOCK : NULL;
	size_t prev_len = 0;
	int rc = in && out ? 0 : csod_fail(err, "out of memory");
	uint64_t pos = fo->data_at, at = 0;
	for (uint16_t b = 0; rc == 0 && b < fo->blocks; b++) {
		unsigned char d[CFDATA_FIXED];
		if (read_at(c->fd, d, sizeof d, pos, err) < 0 ||
		    read_at(c->fd, in, le16(d + 4), pos + CFDATA_FIXED, err) < 0) {
			rc = -1;
			break;
		}
		size_t clen = le16(d + 4), ulen = le16(d + 6);
		if (ulen > CSOD_CAB_BLOCK || (ulen < CSOD_CAB_BLOCK && b + 1 < fo->blocks))
			rc = csod_fail(err, "folder %u's block %u unpacks to %zu bytes", i + 1,
			               b + 1, ulen);
		else if ((fo->type & 0x0f) == CSOD_CAB_NONE)
			rc = clen == ulen
			         ? (memcpy(out, in, ulen), 0)
			         : csod_fail(err, "folder %u's block %u: stored sizes differ",
			                     i + 1, b + 1);
		else if (inflate_block(in, clen, prev, prev_len, out, ulen, err) < 0)
			rc = -1;
		if (rc == 0 && csod_pwrite_all(out_fd, out, ulen, (off_t)at, err) < 0)
			rc = -1;
		if (rc < 0)
			break;
		memcpy(prev, out, ulen);
		prev_len = ulen;
		at += ulen;
		pos += CFDATA_FIXED + clen;
	}
	free(in);
	free(out);
	return rc;
}
