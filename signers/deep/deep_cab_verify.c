/* The self-check of a deep-signed cabinet's inside; see deep_cab.h. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/fileio.h"
#include "deep_cab.h"
#include "deep_cab_read.h"
#include "deep_entry.h"

#define CHUNK (64u * 1024u)

/* The same len bytes at a's offset x and b's offset y. */
static int same_bytes(int a, uint64_t x, int b, uint64_t y, uint64_t len, const char *name,
                      csod_error *err)
{
	unsigned char *p = malloc(2 * CHUNK), *q = p ? p + CHUNK : NULL;
	int rc = p ? 0 : csod_fail(err, "out of memory");
	for (uint64_t off = 0; rc == 0 && off < len;) {
		size_t n = len - off < CHUNK ? (size_t)(len - off) : CHUNK;
		if (pread(a, p, n, (off_t)(x + off)) != (ssize_t)n ||
		    pread(b, q, n, (off_t)(y + off)) != (ssize_t)n)
			rc = csod_fail_errno(err, "cannot read a scratch copy back");
		else if (memcmp(p, q, n) != 0)
			rc = csod_fail(err, "file '%.200s' was copied with other bytes", name);
		off += n;
	}
	free(p);
	return rc;
}

/* A scratch file holding len bytes of from at off. */
static int alone(int from, uint64_t off, uint64_t len, csod_error *err)
{
	int fd = csod_anon_file(NULL, err);
	if (fd >= 0 && csod_copy_range(from, (off_t)off, fd, 0, len, err) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Input file x (in folder content a) against output file y (in b). */
static int check_file(const csod_dcab_file *x, int a, const csod_dcab_file *y, int b,
                      X509_STORE *trust, csod_error *err)
{
	if (strcmp(x->name, y->name) != 0 || x->folder != y->folder || x->date != y->date ||
	    x->time != y->time || x->attribs != y->attribs)
		return csod_fail(err, "file '%.200s' lost its name, folder, time or attributes",
		                 x->name);
	if (x->size == 0)
		return y->size == 0 ? 0 : csod_fail(err, "file '%.200s' grew", x->name);
	int fd = alone(a, x->offset, x->size, err), ofd = -1, rc = -1;
	if (fd < 0)
		return -1;
	const csod_signer *s = csod_deep_signer_named(x->name, fd, err);
	csod_error why;
	if (!s && !err->msg[0])
		rc = x->size == y->size
		         ? same_bytes(a, x->offset, b, y->offset, x->size, x->name, err)
		         : csod_fail(err, "file '%.200s' changed size", x->name);
	else if (s && (ofd = alone(b, y->offset, y->size, err)) >= 0)
		rc = s->verify(fd, ofd, trust, &why) < 0
		         ? csod_fail(err, "inner file '%.200s': %s", x->name, why.msg)
		         : 0;
	close(fd);
	if (ofd >= 0)
		close(ofd);
	return rc;
}

static int check_folder(const csod_dcab *in, const csod_dcab *out, uint16_t i, size_t *k,
                        X509_STORE *trust, csod_error *err)
{
	if (in->folders[i].type != out->folders[i].type)
		return csod_fail(err, "folder %u lost its compression", i + 1);
	int a = csod_anon_file(NULL, err), b = -1, rc = -1;
	if (a >= 0 && (b = csod_anon_file(NULL, err)) >= 0 &&
	    csod_dcab_unpack(in, i, a, err) == 0 && csod_dcab_unpack(out, i, b, err) == 0)
		rc = 0;
	for (; rc == 0 && *k < in->cab.n_files && in->files[*k].folder == i; (*k)++)
		rc = check_file(&in->files[*k], a, &out->files[*k], b, trust, err);
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	return rc;
}

int csod_deep_cab_verify(int in_fd, int copy_fd, X509_STORE *trust, csod_error *err)
{
	csod_dcab in, out;
	if (csod_dcab_open(&in, in_fd, 0, err) < 0)
		return -1;
	if (csod_dcab_open(&out, copy_fd, 0, err) < 0) {
		csod_dcab_close(&in);
		return -1;
	}
	int rc = 0;
	if (in.cab.n_files != out.cab.n_files || in.cab.n_folders != out.cab.n_folders)
		rc =
		    csod_fail(err,
		              "the rebuilt cabinet has %u files in %u folders where the input "
		              "has %u in %u",
		              out.cab.n_files, out.cab.n_folders, in.cab.n_files, in.cab.n_folders);
	size_t k = 0;
	for (uint16_t i = 0; rc == 0 && i < in.cab.n_folders; i++)
		rc = check_folder(&in, &out, i, &k, trust, err);
	csod_dcab_close(&in);
	csod_dcab_close(&out);
	return rc;
}
