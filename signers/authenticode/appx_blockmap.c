/* Checking the block map; see appx_blockmap.h. */
#include "appx_blockmap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BLOCK          65536u
#define MAX_BLOCK_MAP  (64u << 20)
#define BLOCK_MAP_NAME "AppxBlockMap.xml"

/* A ZIP name's %XX escapes undone into out (as long as name at most). */
static void unescape_name(const char *name, char *out)
{
	static const char hex[] = "0123456789ABCDEFabcdef";
	for (; *name; name++) {
		const char *h1, *h2;
		if (name[0] == '%' && name[1] && name[2] && (h1 = strchr(hex, name[1])) &&
		    (h2 = strchr(hex, name[2]))) {
			int a = (int)(h1 - hex), b = (int)(h2 - hex);
			*out++ = (char)(((a > 15 ? a - 6 : a) << 4) | (b > 15 ? b - 6 : b));
			name += 2;
		} else {
			*out++ = *name;
		}
	}
	*out = 0;
}

/* The file a <File> names, which must be listed once. */
static const csod_zip_entry *file_of(const csod_appx *a, const char *listed, unsigned char *seen,
                                     csod_error *err)
{
	char *want = strdup(listed), *name = malloc(65536);
	long found = -1;
	for (char *c = want; c && *c; c++)
		if (*c == '\\')
			*c = '/';
	for (size_t i = 0; want && name && i < a->z.n_entries && found < 0; i++) {
		unescape_name(a->z.entries[i].name, name);
		if (strcmp(name, want) == 0)
			found = (long)i;
	}
	int ok = want && name;
	free(want);
	free(name);
	if (!ok)
		return csod_fail(err, "out of memory"), NULL;
	if (found < 0)
		return csod_fail(err, "it lists %.200s, which the package does not hold", listed),
		       NULL;
	if (seen[found]++)
		return csod_fail(err, "it lists %.200s twice", listed), NULL;
	return &a->z.entries[found];
}

/* A <File>'s Name, Size and LfhSize. */
static int file_attributes(const csod_xml_cursor *c, char *listed, size_t cap, uint64_t *size,
                           uint64_t *lfh, csod_error *err)
{
	char v[2][32];
	const char *names[2] = {"Size", "LfhSize"};
	uint64_t *out[2] = {size, lfh};
	if (csod_xml_attr(c, "Name", listed, cap, err) != 0)
		return csod_fail(err, "a <File> without a Name");
	for (int i = 0; i < 2; i++) {
		char *end;
		if (csod_xml_attr(c, names[i], v[i], sizeof v[i], err) != 0 || v[i][0] < '0' ||
		    v[i][0] > '9' || ((*out[i] = strtoull(v[i], &end, 10)), *end))
			return csod_fail(err, "%.200s: a bad %s", listed, names[i]);
	}
	return 0;
}

/* One file's blocks, checked as its content streams by. */
typedef struct file_check {
	const EVP_MD *md;
	EVP_MD_CTX *ctx;
	unsigned char *expected; /* n blocks of md's size */
	size_t n, at;            /* blocks listed, blocks done */
	uint32_t in_block;       /* bytes of the current block hashed */
	int bad;
} file_check;

static void end_block(file_check *f)
{
	unsigned char h[EVP_MAX_MD_SIZE];
	size_t size = (size_t)EVP_MD_get_size(f->md);
	if (f->at >= f->n || !EVP_DigestFinal_ex(f->ctx, h, NULL) ||
	    memcmp(h, f->expected + f->at * size, size) != 0)
		f->bad = 1;
	f->at++;
	f->in_block = 0;
	EVP_DigestInit_ex(f->ctx, f->md, NULL);
}

static int block_sink(void *arg, const unsigned char *data, size_t len)
{
	file_check *f = arg;
	while (len) {
		size_t n = BLOCK - f->in_block < len ? BLOCK - f->in_block : len;
		EVP_DigestUpdate(f->ctx, data, n);
		f->in_block += (uint32_t)n;
		data += n;
		len -= n;
		if (f->in_block == BLOCK)
			end_block(f);
	}
	return 0;
}

static int check_file(const csod_appx *a, const csod_zip_entry *e, const char *listed,
                      file_check *f, uint64_t size, uint64_t lfh, csod_error *err)
{
	if (size != e->usize)
		return csod_fail(err, "it gives %.200s %llu bytes, the file has %u", listed,
		                 (unsigned long long)size, e->usize);
	if (lfh != e->data_offset - e->local_offset)
		return csod_fail(
		    err, "it gives %.200s a local header of %llu bytes, the file's has %llu",
		    listed, (unsigned long long)lfh,
		    (unsigned long long)(e->data_offset - e->local_offset));
	if (f->n != (e->usize + BLOCK - 1) / BLOCK)
		return csod_fail(err, "it gives %.200s %zu blocks, its size needs %u", listed, f->n,
		                 (e->usize + BLOCK - 1) / BLOCK);
	f->at = 0;
	f->in_block = 0;
	f->bad = 0;
	if (!EVP_DigestInit_ex(f->ctx, f->md, NULL) ||
	    csod_zip_read_entry(&a->z, e, block_sink, f, err) < 0)
		return -1;
	if (f->in_block)
		end_block(f);
	return f->bad ? csod_fail(err, "%.200s does not match its block hashes", listed) : 0;
}

/* Walks the block map: each <File>'s <Block> hashes are gathered, then the
 * file is read and checked. */
static int walk(const csod_appx *a, const char *xml, size_t len, unsigned char *seen, file_check *f,
                csod_error *err)
{
	csod_xml_cursor c = {xml, xml + len};
	char listed[4096], attr[256];
	const char *local;
	size_t n, cap = 0, size = (size_t)EVP_MD_get_size(a->md);
	const csod_zip_entry *e = NULL;
	uint64_t file_size = 0, lfh = 0;
	int rc;
	while ((rc = csod_xml_next(&c, &local, &n, err)) >= 0) {
		int is_file = rc == 1 && n == 4 && memcmp(local, "File", 4) == 0;
		if ((rc == 0 || is_file) && e &&
		    check_file(a, e, listed, f, file_size, lfh, err) < 0)
			return -1;
		if (rc == 0)
			return 0;
		if (is_file) {
			f->n = 0;
			if (file_attributes(&c, listed, sizeof listed, &file_size, &lfh, err) < 0 ||
			    !(e = file_of(a, listed, seen, err)))
				return -1;
		} else if (n == 5 && memcmp(local, "Block", 5) == 0) {
			unsigned char raw[256];
			int got = csod_xml_attr(&c, "Hash", attr, sizeof attr, err);
			size_t alen = strlen(attr);
			int dec = got == 0 && alen % 4 == 0 && alen < 256
			              ? EVP_DecodeBlock(raw, (const unsigned char *)attr, (int)alen)
			              : -1;
			dec -= dec > 0 && alen && attr[alen - 1] == '='
			           ? 1 + (attr[alen - 2] == '=')
			           : 0;
			if (!e || dec != (int)size)
				return csod_fail(err, "a <Block> without a file or a %s hash",
				                 EVP_MD_get0_name(a->md));
			if (f->n == cap) {
				unsigned char *more =
				    realloc(f->expected, (cap = cap ? 2 * cap : 64) * size);
				if (!more)
					return csod_fail(err, "out of memory");
				f->expected = more;
			}
			memcpy(f->expected + f->n++ * size, raw, size);
		}
	}
	return -1;
}

int csod_appx_check_block_map(const csod_appx *a, csod_error *err)
{
	long bm = csod_zip_find(&a->z, BLOCK_MAP_NAME);
	unsigned char *xml = NULL, *seen = calloc(a->z.n_entries + 1, 1);
	size_t len = 0;
	file_check f = {.md = a->md, .ctx = EVP_MD_CTX_new()};
	csod_error why;
	csod_error_clear(&why);
	int rc = seen && f.ctx ? 0 : csod_fail(&why, "out of memory");
	if (rc == 0 && bm >= 0)
		rc = csod_zip_read_small(&a->z, &a->z.entries[bm], MAX_BLOCK_MAP, &xml, &len, &why);
	if (rc == 0)
		rc = walk(a, (const char *)xml, len, seen, &f, &why);
	/* Every file but the footprint files is listed. */
	for (size_t i = 0; rc == 0 && i < a->z.n_entries; i++) {
		const char *name = a->z.entries[i].name;
		if (!seen[i] && strcmp(name, BLOCK_MAP_NAME) != 0 &&
		    strcmp(name, APPX_CONTENT_TYPES) != 0 && strcmp(name, APPX_SIGNATURE_NAME) != 0)
			rc = csod_fail(&why, "it does not list %.200s", name);
	}
	free(xml);
	free(seen);
	free(f.expected);
	EVP_MD_CTX_free(f.ctx);
	return rc < 0 ? csod_fail(err, "AppxBlockMap.xml does not match the package: %s", why.msg)
	              : 0;
}

/* The file a check passed on, as fstat and the block map's hash saw it. */
typedef struct checked_file {
	int valid;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	unsigned char bm[EVP_MAX_MD_SIZE];
} checked_file;

static _Thread_local checked_file last_checked;

static int describe(const csod_appx *a, checked_file *c)
{
	struct stat st;
	memset(c, 0, sizeof *c);
	if (fstat(a->z.fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -1;
	c->valid = 1;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->size = st.st_size;
	c->mtime = st.st_mtim;
	c->ctime = st.st_ctim;
	memcpy(c->bm, a->bm, sizeof c->bm);
	return 0;
}

void csod_appx_block_map_remember(const csod_appx *a)
{
	if (describe(a, &last_checked) < 0)
		memset(&last_checked, 0, sizeof last_checked);
}

int csod_appx_block_map_remembered(const csod_appx *a)
{
	checked_file now;
	int same = last_checked.valid && describe(a, &now) == 0 && now.dev == last_checked.dev &&
	           now.ino == last_checked.ino && now.size == last_checked.size &&
	           now.mtime.tv_sec == last_checked.mtime.tv_sec &&
	           now.mtime.tv_nsec == last_checked.mtime.tv_nsec &&
	           now.ctime.tv_sec == last_checked.ctime.tv_sec &&
	           now.ctime.tv_nsec == last_checked.ctime.tv_nsec &&
	           memcmp(now.bm, last_checked.bm, sizeof now.bm) == 0;
	memset(&last_checked, 0, sizeof last_checked);
	return same;
}
