/* One pass over a dropped file: copy it into the store and hash it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "intake.h"

#define COPY_CHUNK (1 << 20)

static void hex(const unsigned char *md, unsigned len, char *out)
{
	for (unsigned i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int csod_copy_and_hash(int in_fd, int out_fd, int64_t max, csod_file *f, csod_error *err)
{
	const EVP_MD *types[3] = {EVP_md5(), EVP_sha1(), EVP_sha256()};
	char *outs[3] = {f->md5, f->sha1, f->sha256};
	EVP_MD_CTX *ctx[3] = {NULL, NULL, NULL};
	unsigned char *buf = malloc(COPY_CHUNK);
	int rc = -1;
	if (!buf) {
		csod_fail(err, "%s: out of memory", f->name);
		goto out;
	}
	for (int i = 0; i < 3; i++) {
		ctx[i] = EVP_MD_CTX_new();
		if (!ctx[i] || !EVP_DigestInit_ex(ctx[i], types[i], NULL)) {
			csod_fail_ssl(err, "%s: cannot hash", f->name);
			goto out;
		}
	}
	int64_t total = 0;
	for (;;) {
		ssize_t n = read(in_fd, buf, COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			csod_fail_errno(err, "%s: cannot read", f->name);
			goto out;
		}
		if (n == 0)
			break;
		total += n;
		if (max > 0 && total > max) {
			csod_fail(err, "%s: larger than max_file_size (%lld bytes)", f->name,
			          (long long)max);
			goto out;
		}
		for (int i = 0; i < 3; i++)
			EVP_DigestUpdate(ctx[i], buf, (size_t)n);
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out_fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				csod_fail_errno(err, "%s: cannot write to the store", f->name);
				goto out;
			}
			off += w;
		}
	}
	for (int i = 0; i < 3; i++) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned len = 0;
		EVP_DigestFinal_ex(ctx[i], md, &len);
		hex(md, len, outs[i]);
	}
	f->size = total;
	if (fsync(out_fd) < 0) {
		csod_fail_errno(err, "%s: cannot fsync the store copy", f->name);
		goto out;
	}
	rc = 0;
out:
	for (int i = 0; i < 3; i++)
		EVP_MD_CTX_free(ctx[i]);
	free(buf);
	return rc;
}
