/* Listing a ZIP drop's inner files; see deep_list.h. */
#include "deep_list.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../common/fileio.h"
#include "deep_entry.h"

static void hex(const unsigned char *md, unsigned len, char *out)
{
	for (unsigned i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The entry's three hashes, from a read of its scratch copy. */
static int hash_fd(int fd, uint64_t size, csod_deep_inner *in, csod_error *err)
{
	const EVP_MD *md[3] = {EVP_md5(), EVP_sha1(), EVP_sha256()};
	char *out[3] = {in->md5, in->sha1, in->sha256};
	EVP_MD_CTX *c[3] = {EVP_MD_CTX_new(), EVP_MD_CTX_new(), EVP_MD_CTX_new()};
	int rc = 0;
	for (int k = 0; k < 3; k++)
		if (!c[k] || !EVP_DigestInit_ex(c[k], md[k], NULL))
			rc = csod_fail(err, "cannot start a digest");
	unsigned char buf[64 * 1024];
	for (uint64_t off = 0; rc == 0 && off < size;) {
		size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
		if (pread(fd, buf, n, (off_t)off) != (ssize_t)n)
			rc = csod_fail_errno(err, "entry '%.200s': cannot read its scratch copy",
			                     in->name);
		for (int k = 0; rc == 0 && k < 3; k++)
			EVP_DigestUpdate(c[k], buf, n);
		off += n;
	}
	for (int k = 0; k < 3; k++) {
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned len = 0;
		if (rc == 0 && EVP_DigestFinal_ex(c[k], d, &len))
			hex(d, len, out[k]);
		EVP_MD_CTX_free(c[k]);
	}
	return rc;
}

int csod_deep_list(int fd, int64_t max_size, const char *tmp_dir,
                   void (*each)(void *ctx, const csod_deep_inner *inner), void *ctx,
                   csod_error *err)
{
	csod_zip z;
	if (csod_deep_open(&z, fd, max_size, err) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < z.n_entries; i++) {
		const csod_zip_entry *e = &z.entries[i];
		if (e->name[e->name_len - 1] == '/')
			continue;
		int efd = csod_deep_extract(&z, e, tmp_dir, err);
		if (efd < 0) {
			rc = -1;
			break;
		}
		csod_deep_inner in;
		memset(&in, 0, sizeof in);
		in.name = e->name;
		in.size = e->usize;
		const csod_signer *s = csod_deep_signer_for(e, efd, err);
		if (!s && err->msg[0])
			rc = -1;
		else
			in.engine = s ? s->name : NULL;
		if (rc == 0)
			rc = hash_fd(efd, e->usize, &in, err);
		close(efd);
		if (rc == 0)
			each(ctx, &in);
	}
	csod_zip_close(&z);
	return rc;
}
