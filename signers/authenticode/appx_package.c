/* Reading an MSIX/APPX package; see appx_package.h. */
#include "appx_package.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MANIFEST        "AppxManifest.xml"
#define BLOCK_MAP       "AppxBlockMap.xml"
#define CODE_INTEGRITY  "AppxMetadata/CodeIntegrity.cat"
#define BUNDLE_MANIFEST "AppxMetadata/AppxBundleManifest.xml"
#define MAX_XML         (4u << 20) /* manifest, content types */
#define BM_HEAD         65536      /* where the block map's HashMethod must be */
#define IO_CHUNK        (256u * 1024u)

/* The block map is hashed with each digest it may name while it streams
 * by, and its head is kept to read which one it names. */
typedef struct bm_reader {
	EVP_MD_CTX *ctx[3];
	char head[BM_HEAD];
	size_t head_len;
} bm_reader;

static const char *const bm_digests[3] = {"sha256", "sha384", "sha512"};

static int bm_sink(void *arg, const unsigned char *data, size_t len)
{
	bm_reader *r = arg;
	size_t keep = len < BM_HEAD - r->head_len ? len : BM_HEAD - r->head_len;
	memcpy(r->head + r->head_len, data, keep);
	r->head_len += keep;
	for (int i = 0; i < 3; i++)
		if (!EVP_DigestUpdate(r->ctx[i], data, len))
			return -1;
	return 0;
}

static int read_block_map(csod_appx *a, const csod_zip_entry *e, csod_error *err)
{
	bm_reader *r = calloc(1, sizeof *r);
	int rc = r ? 0 : csod_fail(err, "out of memory");
	for (int i = 0; rc == 0 && i < 3; i++)
		if (!(r->ctx[i] = EVP_MD_CTX_new()) ||
		    !EVP_DigestInit_ex(r->ctx[i], EVP_get_digestbyname(bm_digests[i]), NULL))
			rc = csod_fail_ssl(err, "cannot hash the block map");
	if (rc == 0)
		rc = csod_zip_read_entry(&a->z, e, bm_sink, r, err);
	if (rc == 0 && !(a->md = csod_appx_hash_method(r->head, r->head_len, err)))
		rc = -1;
	for (int i = 0; rc == 0 && i < 3; i++)
		if (EVP_MD_get_type(a->md) ==
		        EVP_MD_get_type(EVP_get_digestbyname(bm_digests[i])) &&
		    !EVP_DigestFinal_ex(r->ctx[i], a->bm, NULL))
			rc = csod_fail_ssl(err, "cannot hash the block map");
	for (int i = 0; r && i < 3; i++)
		EVP_MD_CTX_free(r->ctx[i]);
	free(r);
	return rc;
}

static int hash_sink(void *arg, const unsigned char *data, size_t len)
{
	return EVP_DigestUpdate(arg, data, len) ? 0 : -1;
}

static int hash_entry(const csod_appx *a, const csod_zip_entry *e, unsigned char *out,
                      csod_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = ctx && EVP_DigestInit_ex(ctx, a->md, NULL)
	             ? csod_zip_read_entry(&a->z, e, hash_sink, ctx, err)
	             : csod_fail_ssl(err, "cannot hash %s", e->name);
	if (rc == 0 && !EVP_DigestFinal_ex(ctx, out, NULL))
		rc = csod_fail_ssl(err, "cannot hash %s", e->name);
	EVP_MD_CTX_free(ctx);
	return rc;
}

static const csod_zip_entry *entry(const csod_appx *a, const char *name)
{
	long i = csod_zip_find(&a->z, name);
	return i < 0 ? NULL : &a->z.entries[i];
}

static int open_checked(csod_appx *a, csod_error *err)
{
	const csod_zip_entry *manifest = entry(a, MANIFEST), *bm = entry(a, BLOCK_MAP);
	const csod_zip_entry *ct = entry(a, APPX_CONTENT_TYPES), *ci = entry(a, CODE_INTEGRITY);
	const csod_zip_entry *bundle = entry(a, BUNDLE_MANIFEST);
	unsigned char *xml = NULL;
	size_t len = 0;
	if (bundle && manifest)
		return csod_fail(err, "both %s and %s: a package or a bundle?", MANIFEST,
		                 BUNDLE_MANIFEST);
	a->bundle = bundle != NULL;
	if (bundle)
		manifest = bundle;
	if (!manifest || !bm || !ct)
		return csod_fail(err, "not an MSIX/APPX package (no %s)",
		                 !manifest ? MANIFEST
		                 : !bm     ? BLOCK_MAP
		                           : APPX_CONTENT_TYPES);
	if (csod_zip_read_small(&a->z, manifest, MAX_XML, &xml, &len, err) < 0)
		return -1;
	csod_error why;
	int rc =
	    csod_appx_publisher((const char *)xml, len, a->publisher, sizeof a->publisher, &why);
	free(xml);
	if (rc < 0)
		return csod_fail(err, "%s: %s", manifest->name, why.msg);
	if (read_block_map(a, bm, err) < 0 ||
	    csod_zip_read_small(&a->z, ct, MAX_XML, &a->content_types, &a->content_types_len, err) <
	        0)
		return -1;
	a->has_ci = ci != NULL;
	return ci ? hash_entry(a, ci, a->ci, err) : 0;
}

int csod_appx_open(csod_appx *a, int fd, const char *name, csod_error *err)
{
	memset(a, 0, sizeof *a);
	if (csod_zip_open_zip64(&a->z, fd, name, err) < 0)
		return -1;
	csod_error why;
	if (open_checked(a, &why) < 0) {
		csod_appx_close(a);
		return csod_fail(err, "%s: %s", name, why.msg);
	}
	return 0;
}

void csod_appx_close(csod_appx *a)
{
	csod_zip_close(&a->z);
	free(a->content_types);
	a->content_types = NULL;
}

int csod_appx_hash_range(int fd, uint64_t from, uint64_t to, const EVP_MD *md, unsigned char *out,
                         csod_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *buf = malloc(IO_CHUNK);
	int rc =
	    ctx && buf && EVP_DigestInit_ex(ctx, md, NULL) ? 0 : csod_fail(err, "out of memory");
	while (rc == 0 && from < to) {
		size_t n = to - from < IO_CHUNK ? (size_t)(to - from) : IO_CHUNK;
		ssize_t got = pread(fd, buf, n, (off_t)from);
		if (got <= 0)
			rc = csod_fail_errno(err, "cannot read the package back");
		else if (!EVP_DigestUpdate(ctx, buf, (size_t)got))
			rc = csod_fail_ssl(err, "cannot hash the package");
		from += got > 0 ? (uint64_t)got : 0;
	}
	if (rc == 0 && !EVP_DigestFinal_ex(ctx, out, NULL))
		rc = csod_fail_ssl(err, "cannot hash the package");
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

int csod_appx_dir_hash(const EVP_MD *md, const unsigned char *cd, size_t cd_len, size_t n,
                       uint64_t cd_offset, const unsigned char *comment, uint16_t comment_len,
                       unsigned char *out, csod_error *err)
{
	unsigned char e[22];
	csod_put32(e, 0x06054b50u);
	csod_put16(e + 4, 0);
	csod_put16(e + 6, 0);
	csod_put16(e + 8, (uint16_t)n);
	csod_put16(e + 10, (uint16_t)n);
	csod_put32(e + 12, (uint32_t)cd_len);
	csod_put32(e + 16, (uint32_t)cd_offset);
	csod_put16(e + 20, comment_len);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, cd, cd_len) &&
	         EVP_DigestUpdate(ctx, e, sizeof e) &&
	         EVP_DigestUpdate(ctx, comment, comment_len) && EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : csod_fail_ssl(err, "cannot hash the central directory");
}

size_t csod_appx_blob(const EVP_MD *md, const unsigned char *pc, const unsigned char *cd,
                      const unsigned char *ct, const unsigned char *bm, const unsigned char *ci,
                      unsigned char *out)
{
	const unsigned char *parts[5] = {pc, cd, ct, bm, ci};
	static const char tags[5][5] = {"AXPC", "AXCD", "AXCT", "AXBM", "AXCI"};
	size_t size = (size_t)EVP_MD_get_size(md), n = 4;
	memcpy(out, "APPX", 4);
	for (int i = 0; i < 5 && parts[i]; i++) {
		memcpy(out + n, tags[i], 4);
		memcpy(out + n + 4, parts[i], size);
		n += 4 + size;
	}
	return n;
}
