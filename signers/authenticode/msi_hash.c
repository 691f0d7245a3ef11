/* The MSI Authenticode hash. Windows walks the storages depth first and,
 * inside each, takes the children sorted by their raw UTF-16LE names
 * (byte-wise over the shorter name, NUL included; on a tie the longer name
 * first), skipping the two signature streams of the root storage; after a
 * storage's children comes its CLSID. Stream contents are fed to the
 * digest in chunks. */
#include <stdlib.h>
#include <string.h>

#include "msi_hash.h"

const unsigned char csod_msi_signature_name[36] = {0x05, 0, 'D', 0, 'i', 0, 'g', 0, 'i', 0, 't', 0,
                                                   'a',  0, 'l', 0, 'S', 0, 'i', 0, 'g', 0, 'n', 0,
                                                   'a',  0, 't', 0, 'u', 0, 'r', 0, 'e', 0, 0,   0};
const unsigned char csod_msi_signature_ex_name[46] = {
    0x05, 0, 'M', 0, 's', 0, 'i', 0, 'D', 0, 'i', 0, 'g', 0, 'i', 0, 't', 0, 'a', 0, 'l', 0, 'S', 0,
    'i',  0, 'g', 0, 'n', 0, 'a', 0, 't', 0, 'u', 0, 'r', 0, 'e', 0, 'E', 0, 'x', 0, 0,   0};

static int compare_names(const void *a, const void *b, void *arg)
{
	const csod_cfb *c = arg;
	const csod_cfb_entry *x = &c->dir[*(const uint32_t *)a], *y = &c->dir[*(const uint32_t *)b];
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int d = memcmp(x->raw, y->raw, n);
	if (d != 0)
		return d;
	return x->name_len == y->name_len ? 0 : x->name_len > y->name_len ? -1 : 1;
}

static int is_signature(const csod_cfb_entry *e)
{
	return (e->name_len == sizeof csod_msi_signature_name &&
	        memcmp(e->raw, csod_msi_signature_name, e->name_len) == 0) ||
	       (e->name_len == sizeof csod_msi_signature_ex_name &&
	        memcmp(e->raw, csod_msi_signature_ex_name, e->name_len) == 0);
}

/* The children of storage id in hash order, signature streams left out
 * at the root; the caller frees the array. */
static uint32_t *sorted_children(const csod_cfb *c, uint32_t id, uint32_t *n, csod_error *err)
{
	uint32_t all;
	const uint32_t *kids = csod_cfb_children(c, id, &all);
	uint32_t *out = malloc(((size_t)all + 1) * sizeof *out);
	if (!out)
		return csod_fail(err, "out of memory"), NULL;
	*n = 0;
	for (uint32_t i = 0; i < all; i++)
		if (id != 0 || !is_signature(&c->dir[kids[i]]))
			out[(*n)++] = kids[i];
	qsort_r(out, *n, sizeof *out, compare_names, (void *)c);
	return out;
}

static int digest_chunk(void *ctx, const unsigned char *p, size_t n, csod_error *err)
{
	if (!EVP_DigestUpdate(ctx, p, n))
		return csod_fail_ssl(err, "digest failed");
	return 0;
}

/* One entry's metadata: the name without its NUL (not for the root), the
 * CLSID of a storage or the low half of a stream's size, the state bits,
 * and the creation and modification times (not for the root). */
static int prehash_entry(const csod_cfb_entry *e, EVP_MD_CTX *md)
{
	int ok = 1;
	if (e->type != CFB_TYPE_ROOT)
		ok &= EVP_DigestUpdate(md, e->raw, e->name_len - 2u);
	ok &= EVP_DigestUpdate(md, e->raw + (e->type == CFB_TYPE_STREAM ? 0x78 : 0x50),
	                       e->type == CFB_TYPE_STREAM ? 4 : 16);
	ok &= EVP_DigestUpdate(md, e->raw + 0x60, 4);
	if (e->type != CFB_TYPE_ROOT)
		ok &= EVP_DigestUpdate(md, e->raw + 0x64, 16);
	return ok;
}

/* Both digests walk the storages alike: the content hash feeds each
 * stream's bytes and a storage's CLSID after its children; the pre-hash
 * feeds each entry's metadata, a storage's before its children. Storages
 * nest at most 64 deep (checked when the file was opened), so the
 * recursion is bounded. */
static int walk_storage(const csod_cfb *c, uint32_t id, int metadata, EVP_MD_CTX *md,
                        csod_error *err)
{
	if (metadata && !prehash_entry(&c->dir[id], md))
		return csod_fail_ssl(err, "digest failed");
	uint32_t n;
	uint32_t *kids = sorted_children(c, id, &n, err);
	if (!kids)
		return -1;
	int rc = 0;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		const csod_cfb_entry *e = &c->dir[kids[i]];
		if (e->type == CFB_TYPE_STORAGE)
			rc = walk_storage(c, kids[i], metadata, md, err);
		else if (!metadata)
			rc = csod_cfb_read_stream(c, kids[i], digest_chunk, md, err);
		else if (!prehash_entry(e, md))
			rc = csod_fail_ssl(err, "digest failed");
	}
	free(kids);
	if (rc == 0 && !metadata && !EVP_DigestUpdate(md, c->dir[id].raw + 0x50, 16))
		rc = csod_fail_ssl(err, "digest failed");
	return rc;
}

static int run_digest(const csod_cfb *c, const EVP_MD *md, const unsigned char *prefix,
                      size_t prefix_len, int metadata, unsigned char *out, unsigned *len,
                      csod_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;
	if (!ctx || !EVP_DigestInit_ex(ctx, md, NULL) ||
	    (prefix && !EVP_DigestUpdate(ctx, prefix, prefix_len)))
		csod_fail_ssl(err, "digest failed");
	else if (walk_storage(c, 0, metadata, ctx, err) == 0)
		rc = EVP_DigestFinal_ex(ctx, out, len) ? 0 : csod_fail_ssl(err, "digest failed");
	EVP_MD_CTX_free(ctx);
	return rc;
}

int csod_msi_prehash(const csod_cfb *c, const EVP_MD *md, unsigned char *out, unsigned *len,
                     csod_error *err)
{
	return run_digest(c, md, NULL, 0, 1, out, len, err);
}

int csod_msi_hash(const csod_cfb *c, const EVP_MD *md, const unsigned char *prehash,
                  size_t prehash_len, unsigned char *out, unsigned *len, csod_error *err)
{
	return run_digest(c, md, prehash, prehash_len, 0, out, len, err);
}
