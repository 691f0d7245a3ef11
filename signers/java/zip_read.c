/* Central directory reader; see zip_read.h. Every length and offset taken
 * from the file is checked against what was actually read before use. */
#include "zip_read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zip64.h"
#include "zip_unpack.h"

#define SIG_LOCAL        0x04034b50u
#define SIG_CENTRAL      0x02014b50u
#define SIG_EOCD         0x06054b50u
#define SIG_ZIP64_LOC    0x07064b50u
#define SIG_DESCRIPTOR   0x08074b50u
#define EOCD_LEN         22u
#define CENTRAL_LEN      46u
#define LOCAL_LEN        30u
#define IO_CHUNK         (256u * 1024u)
#define FLAG_ENCRYPTED   0x0001u
#define FLAG_DESCRIPTOR  0x0008u
#define FLAG_STRONG_ENCR 0x0040u

int csod_zip_pread(const csod_zip *z, void *buf, size_t len, uint64_t off, csod_error *err)
{
	if (off > z->size || len > z->size - off)
		return csod_fail(err,
		                 "truncated archive (a record at offset %llu runs past the end)",
		                 (unsigned long long)off);
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(z->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return csod_fail_errno(err, "cannot read the archive");
		if (n == 0)
			return csod_fail(err, "truncated archive (file shrank while reading)");
		done += (size_t)n;
	}
	return 0;
}

static int find_eocd(csod_zip *z, csod_error *err)
{
	if (z->size < EOCD_LEN)
		return csod_fail(err, "not a ZIP archive (too short)");
	size_t span = z->size < EOCD_LEN + 65535u ? (size_t)z->size : EOCD_LEN + 65535u;
	unsigned char *tail = malloc(span);
	if (!tail)
		return csod_fail(err, "out of memory");
	if (csod_zip_pread(z, tail, span, z->size - span, err) < 0) {
		free(tail);
		return -1;
	}
	/* The end record is the last signature whose comment length reaches
	 * exactly the end of the file. */
	for (size_t i = span - EOCD_LEN + 1; i-- > 0;) {
		if (csod_le32(tail + i) != SIG_EOCD)
			continue;
		if (csod_le16(tail + i + 20) != span - i - EOCD_LEN)
			continue;
		const unsigned char *e = tail + i;
		z->eocd_offset = z->size - span + i;
		uint16_t disk = csod_le16(e + 4), cd_disk = csod_le16(e + 6);
		uint16_t on_disk = csod_le16(e + 8), total = csod_le16(e + 10);
		uint32_t cd_size = csod_le32(e + 12), cd_off = csod_le32(e + 16);
		int zip64 = total == 0xffff || on_disk == 0xffff || cd_size == 0xffffffffu ||
		            cd_off == 0xffffffffu;
		int located = i >= 20 && csod_le32(tail + i - 20) == SIG_ZIP64_LOC;
		int rc = 0;
		if ((zip64 || located) && (!z->allow_zip64 || !located))
			rc = csod_fail(err, "ZIP64 archives are not supported");
		else if (located)
			rc = csod_zip64_end(z, tail + i - 20, z->eocd_offset - 20, err);
		else if (disk != 0 || cd_disk != 0 || on_disk != total)
			rc = csod_fail(err, "multi-disk (split) ZIP archives are not supported");
		if (rc < 0) {
			free(tail);
			return -1;
		}
		if (!located) {
			z->n_entries = total;
			z->cd_size = cd_size;
			z->cd_offset = cd_off;
			z->cd_end = z->eocd_offset;
		}
		z->comment_len = csod_le16(e + 20);
		z->comment = malloc(z->comment_len + 1u);
		if (!z->comment) {
			free(tail);
			return csod_fail(err, "out of memory");
		}
		memcpy(z->comment, e + EOCD_LEN, z->comment_len);
		free(tail);
		return 0;
	}
	free(tail);
	return csod_fail(err, "not a ZIP archive (no end of central directory record)");
}

static int check_name(const char *name, size_t len, csod_error *err)
{
	if (len == 0)
		return csod_fail(err, "an entry has an empty name");
	if (memchr(name, 0, len))
		return csod_fail(err, "an entry name contains a NUL byte");
	if (name[0] == '/' || name[0] == '\\' || (len >= 2 && name[1] == ':'))
		return csod_fail(err, "entry '%.200s' has an absolute name", name);
	const char *p = name, *end = name + len;
	while (p < end) {
		const char *q = p;
		while (q < end && *q != '/' && *q != '\\')
			q++;
		if (q - p == 2 && p[0] == '.' && p[1] == '.')
			return csod_fail(err, "entry '%.200s' has a '..' path component", name);
		p = q + 1;
	}
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	const csod_zip_entry *x = *(const csod_zip_entry *const *)a;
	const csod_zip_entry *y = *(const csod_zip_entry *const *)b;
	return strcmp(x->name, y->name);
}

static int cmp_offset(const void *a, const void *b)
{
	const csod_zip_entry *x = *(const csod_zip_entry *const *)a;
	const csod_zip_entry *y = *(const csod_zip_entry *const *)b;
	return x->local_offset < y->local_offset ? -1 : x->local_offset > y->local_offset;
}

static int parse_central(csod_zip *z, const unsigned char *cd, csod_error *err)
{
	size_t pos = 0;
	uint64_t total = 0;
	for (size_t i = 0; i < z->n_entries; i++) {
		csod_zip_entry *e = &z->entries[i];
		if (z->cd_size - pos < CENTRAL_LEN || csod_le32(cd + pos) != SIG_CENTRAL)
			return csod_fail(
			    err, "truncated or corrupt central directory (entry %zu of %zu)", i + 1,
			    z->n_entries);
		const unsigned char *r = cd + pos;
		e->version_made = csod_le16(r + 4);
		e->version_needed = csod_le16(r + 6);
		e->flags = csod_le16(r + 8);
		e->method = csod_le16(r + 10);
		e->mtime = csod_le16(r + 12);
		e->mdate = csod_le16(r + 14);
		e->crc = csod_le32(r + 16);
		e->csize = csod_le32(r + 20);
		e->usize = csod_le32(r + 24);
		e->name_len = csod_le16(r + 28);
		e->cd_extra_len = csod_le16(r + 30);
		e->comment_len = csod_le16(r + 32);
		e->disk_start = csod_le16(r + 34);
		e->internal_attr = csod_le16(r + 36);
		e->external_attr = csod_le32(r + 38);
		e->local_offset = csod_le32(r + 42);
		size_t var = (size_t)e->name_len + e->cd_extra_len + e->comment_len;
		if (z->cd_size - pos - CENTRAL_LEN < var)
			return csod_fail(
			    err, "truncated central directory (entry %zu runs past its end)",
			    i + 1);
		e->name = malloc(e->name_len + 1u);
		e->cd_extra = malloc(e->cd_extra_len + 1u);
		e->comment = malloc(e->comment_len + 1u);
		if (!e->name || !e->cd_extra || !e->comment)
			return csod_fail(err, "out of memory");
		memcpy(e->name, r + CENTRAL_LEN, e->name_len);
		e->name[e->name_len] = 0;
		memcpy(e->cd_extra, r + CENTRAL_LEN + e->name_len, e->cd_extra_len);
		memcpy(e->comment, r + CENTRAL_LEN + e->name_len + e->cd_extra_len, e->comment_len);
		pos += CENTRAL_LEN + var;
		if (check_name(e->name, e->name_len, err) < 0)
			return -1;
		if ((e->csize == 0xffffffffu || e->usize == 0xffffffffu ||
		     e->local_offset == 0xffffffffu || e->disk_start == 0xffff) &&
		    (z->zip64 ? csod_zip64_entry(e, err)
		              : csod_fail(err, "ZIP64 archives are not supported")) < 0)
			return -1;
		if (e->flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCR))
			return csod_fail(err, "entry '%.200s' is encrypted", e->name);
		if (e->method != 0 && e->method != 8)
			return csod_fail(err,
			                 "entry '%.200s' uses compression method %u (only stored "
			                 "and deflated are supported)",
			                 e->name, e->method);
		if (e->method == 0 && e->csize != e->usize)
			return csod_fail(err, "stored entry '%.200s' has different sizes", e->name);
		if (e->usize > CSOD_ZIP_MAX_ENTRY_SIZE)
			return csod_fail(err,
			                 "entry '%.200s' declares %u bytes uncompressed (limit "
			                 "%u): refused as a possible zip bomb",
			                 e->name, e->usize, CSOD_ZIP_MAX_ENTRY_SIZE);
		if (e->usize > 1024u * 1024u &&
		    e->usize / (e->csize ? e->csize : 1u) > CSOD_ZIP_MAX_RATIO)
			return csod_fail(err,
			                 "entry '%.200s' has a compression ratio over %u:1: "
			                 "refused as a zip bomb",
			                 e->name, CSOD_ZIP_MAX_RATIO);
		total += e->usize;
		if (total > CSOD_ZIP_MAX_TOTAL_SIZE)
			return csod_fail(err,
			                 "entries declare more than %llu bytes uncompressed in "
			                 "total: refused as a zip bomb",
			                 (unsigned long long)CSOD_ZIP_MAX_TOTAL_SIZE);
	}
	if (pos != z->cd_size)
		return csod_fail(err, "central directory size does not match its entries");
	return 0;
}

static int read_local_headers(csod_zip *z, csod_error *err)
{
	unsigned char *name = malloc(65536);
	if (!name)
		return csod_fail(err, "out of memory");
	int rc = 0;
	for (size_t i = 0; i < z->n_entries && rc == 0; i++) {
		csod_zip_entry *e = &z->entries[i];
		unsigned char h[LOCAL_LEN];
		if (e->local_offset > z->entries_end ||
		    z->entries_end - e->local_offset < LOCAL_LEN) {
			rc = csod_fail(err, "entry '%.200s' points outside the archive's entries",
			               e->name);
			break;
		}
		if ((rc = csod_zip_pread(z, h, sizeof h, e->local_offset, err)) < 0)
			break;
		if (csod_le32(h) != SIG_LOCAL) {
			rc = csod_fail(
			    err, "entry '%.200s' has no local header where the directory says",
			    e->name);
			break;
		}
		uint16_t lname = csod_le16(h + 26), lextra = csod_le16(h + 28);
		if (lname != e->name_len ||
		    (rc = csod_zip_pread(z, name, lname, e->local_offset + LOCAL_LEN, err)) < 0 ||
		    memcmp(name, e->name, lname) != 0) {
			rc = csod_fail(
			    err, "entry '%.200s': local header name differs from the directory",
			    e->name);
			break;
		}
		e->data_offset = (uint64_t)e->local_offset + LOCAL_LEN + lname + lextra;
		e->data_end = e->data_offset + e->csize;
		if (e->flags & FLAG_DESCRIPTOR) {
			unsigned char d[4];
			if (e->data_end + 4 <= z->entries_end &&
			    csod_zip_pread(z, d, 4, e->data_end, NULL) == 0 &&
			    csod_le32(d) == SIG_DESCRIPTOR)
				e->data_end += 4;
			/* A ZIP64 entry's descriptor has 8-byte sizes. */
			int wide =
			    z->zip64 && lextra &&
			    csod_zip_pread(z, name, lextra, e->data_offset - lextra, NULL) == 0 &&
			    csod_zip64_in_extra(name, lextra);
			e->data_end += wide ? 20 : 12;
		}
		if (e->data_end > z->entries_end)
			rc = csod_fail(
			    err, "entry '%.200s' runs past the end of the entries (truncated?)",
			    e->name);
	}
	free(name);
	return rc;
}

static int check_layout(csod_zip *z, csod_error *err)
{
	csod_zip_entry **v = malloc((z->n_entries ? z->n_entries : 1) * sizeof *v);
	if (!v)
		return csod_fail(err, "out of memory");
	for (size_t i = 0; i < z->n_entries; i++)
		v[i] = &z->entries[i];
	int rc = 0;
	qsort(v, z->n_entries, sizeof *v, cmp_name);
	for (size_t i = 1; i < z->n_entries && rc == 0; i++)
		if (strcmp(v[i - 1]->name, v[i]->name) == 0)
			rc = csod_fail(err, "duplicate entry name '%.200s'", v[i]->name);
	qsort(v, z->n_entries, sizeof *v, cmp_offset);
	for (size_t i = 1; i < z->n_entries && rc == 0; i++)
		if (v[i]->local_offset < v[i - 1]->data_end)
			rc = csod_fail(
			    err, "entries '%.200s' and '%.200s' overlap (refused as a zip bomb)",
			    v[i - 1]->name, v[i]->name);
	free(v);
	return rc;
}

/* An APK Signing Block ends right before the central directory with its
 * size and magic; when the magic is there, the whole block must be sound. */
static int find_apk_sig_block(csod_zip *z, csod_error *err)
{
	z->entries_end = z->cd_offset;
	unsigned char t[24];
	if (z->cd_offset < 32 || csod_zip_pread(z, t, sizeof t, z->cd_offset - 24, NULL) < 0 ||
	    memcmp(t + 8, CSOD_ZIP_APK_SIG_MAGIC, 16) != 0)
		return 0;
	uint64_t size = csod_le64(t);
	if (size < 24 || size > CSOD_ZIP_APK_SIG_MAX_LEN || size + 8 > z->cd_offset)
		return csod_fail(err, "corrupt APK signing block (impossible size %llu)",
		                 (unsigned long long)size);
	uint64_t start = z->cd_offset - size - 8;
	unsigned char h[12];
	if (csod_zip_pread(z, h, 8, start, err) < 0)
		return -1;
	if (csod_le64(h) != size)
		return csod_fail(err, "corrupt APK signing block (its two size fields differ)");
	uint64_t pos = start + 8, end = z->cd_offset - 24;
	while (pos < end) {
		if (end - pos < 12 || csod_zip_pread(z, h, 12, pos, err) < 0)
			return csod_fail(err,
			                 "corrupt APK signing block (truncated ID-value pair)");
		uint64_t len = csod_le64(h);
		if (len < 4 || len > end - pos - 8)
			return csod_fail(
			    err, "corrupt APK signing block (pair length %llu out of range)",
			    (unsigned long long)len);
		pos += 8 + len;
	}
	z->has_apk_sig_block = 1;
	z->apk_sig_block_offset = start;
	z->apk_sig_block_size = size + 8;
	z->entries_end = start;
	return 0;
}

static int open_archive(csod_zip *z, int fd, const char *name, int allow_zip64, csod_error *err)
{
	memset(z, 0, sizeof *z);
	z->allow_zip64 = allow_zip64;
	z->fd = fd;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return csod_fail_errno(err, "%s: cannot stat", name);
	z->size = (uint64_t)st.st_size;
	csod_error e;
	csod_error_clear(&e);
	unsigned char *cd = NULL;
	int rc = find_eocd(z, &e);
	if (rc == 0 && (z->cd_size > CSOD_ZIP_MAX_CD_SIZE || z->cd_offset > z->cd_end ||
	                z->cd_size != z->cd_end - z->cd_offset))
		rc = csod_fail(&e, "truncated or inconsistent central directory");
	if (rc == 0 && !(cd = malloc(z->cd_size ? z->cd_size : 1)))
		rc = csod_fail(&e, "out of memory");
	if (rc == 0)
		rc = csod_zip_pread(z, cd, z->cd_size, z->cd_offset, &e);
	if (rc == 0 && !(z->entries = calloc(z->n_entries ? z->n_entries : 1u, sizeof *z->entries)))
		rc = csod_fail(&e, "out of memory");
	if (rc == 0)
		rc = parse_central(z, cd, &e);
	free(cd);
	if (rc == 0)
		rc = find_apk_sig_block(z, &e);
	if (rc == 0)
		rc = read_local_headers(z, &e);
	if (rc == 0)
		rc = check_layout(z, &e);
	if (rc < 0) {
		csod_zip_close(z);
		return csod_fail(err, "%s: %s", name, e.msg);
	}
	return 0;
}

int csod_zip_open(csod_zip *z, int fd, const char *name, csod_error *err)
{
	return open_archive(z, fd, name, 0, err);
}

int csod_zip_open_zip64(csod_zip *z, int fd, const char *name, csod_error *err)
{
	return open_archive(z, fd, name, 1, err);
}

void csod_zip_close(csod_zip *z)
{
	if (z->entries)
		for (size_t i = 0; i < z->n_entries; i++) {
			free(z->entries[i].name);
			free(z->entries[i].cd_extra);
			free(z->entries[i].comment);
		}
	free(z->entries);
	free(z->comment);
	z->entries = NULL;
	z->comment = NULL;
	z->n_entries = 0;
}

long csod_zip_find(const csod_zip *z, const char *name)
{
	for (size_t i = 0; i < z->n_entries; i++)
		if (strcmp(z->entries[i].name, name) == 0)
			return (long)i;
	return -1;
}

int csod_zip_read_entry(const csod_zip *z, const csod_zip_entry *e, csod_zip_sink sink, void *ctx,
                        csod_error *err)
{
	csod_zip_unpack u;
	/* Sized for the entry: most are small, and come from the heap. */
	size_t io = e->csize < IO_CHUNK ? (e->csize ? e->csize : 1) : IO_CHUNK;
	unsigned char *in = malloc(io);
	int rc =
	    in ? csod_zip_unpack_begin(&u, e, sink, ctx, err) : csod_fail(err, "out of memory");
	for (uint64_t off = 0; rc == 0 && off < e->csize;) {
		size_t n = e->csize - off < io ? (size_t)(e->csize - off) : io;
		rc = csod_zip_pread(z, in, n, e->data_offset + off, err);
		if (rc == 0)
			rc = csod_zip_unpack_feed(&u, in, n, err);
		off += n;
	}
	if (rc == 0)
		rc = csod_zip_unpack_end(&u, err);
	else if (in)
		csod_zip_unpack_free(&u);
	free(in);
	return rc;
}

struct small_buf {
	unsigned char *p;
	size_t len, max;
};

static int small_sink(void *ctx, const unsigned char *data, size_t len)
{
	struct small_buf *b = ctx;
	if (len > b->max - b->len)
		return -1;
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

int csod_zip_read_small(const csod_zip *z, const csod_zip_entry *e, size_t max, unsigned char **out,
                        size_t *outlen, csod_error *err)
{
	if (e->usize > max)
		return csod_fail(err, "entry '%.200s' is too large (%u bytes, limit %zu)", e->name,
		                 e->usize, max);
	struct small_buf b = {malloc((size_t)e->usize + 1u), 0, e->usize};
	if (!b.p)
		return csod_fail(err, "out of memory");
	if (csod_zip_read_entry(z, e, small_sink, &b, err) < 0) {
		free(b.p);
		return -1;
	}
	b.p[b.len] = 0;
	*out = b.p;
	*outlen = b.len;
	return 0;
}
