/* Detached signatures in csod-sign: the file handling around the engines'
 * extract_signature and attach_signature hooks. Outputs are written beside
 * their place and renamed into it, as signed files are. */
#include "detached.h"
#include "staged.h"

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "../../lib/fsutil.h"
#include "../../signers/common/fileio.h"

#define MAX_SIG_FILE (32u << 20) /* PEM of the largest signature an engine takes */

/* An input opened as csod-sign opens one (no links, a regular file), and
 * the engine for it. */
typedef struct input {
	int fd;
	struct stat st;
	const csod_signer *s;
} input;

static int open_input(const char *service, const char *path, input *in, csod_error *err)
{
	char buf[PATH_MAX];
	in->fd = -1;
	if (csod_path(buf, sizeof buf, "%s", path) < 0)
		return csod_fail(err, "%s: path too long", path);
	in->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in->fd < 0 || fstat(in->fd, &in->st) < 0)
		return csod_fail_errno(err, "%s", path);
	if (!S_ISREG(in->st.st_mode))
		return csod_fail(err, "%s: not a regular file", path);
	if (!(in->s = csod_signer_for(service, basename(buf), in->fd, err)))
		return -1;
	if (!in->s->extract_signature || !in->s->attach_signature)
		return csod_fail(err, "%s: detached signatures are not supported for %s files",
		                 path, in->s->name);
	return 0;
}

/* Whatever happened: the output removed unless it was published. */
typedef struct output {
	int fd;
	char tmp[PATH_MAX];
} output;

static int open_output(output *o, const char *path, csod_error *err)
{
	o->fd = csod_stage_open(path, o->tmp, sizeof o->tmp, err);
	return o->fd < 0 ? -1 : 0;
}

static int finish(output *out, input *in, unsigned char *sig, int rc)
{
	if (out->fd >= 0)
		close(out->fd);
	if (out->tmp[0])
		unlink(out->tmp);
	if (in->fd >= 0)
		close(in->fd);
	free(sig);
	return rc;
}

int csod_extract_to(const char *service, const char *in_path, const char *out_path, int sync,
                    csod_error *err)
{
	input in = {.fd = -1};
	unsigned char *sig = NULL;
	size_t len = 0;
	output out = {.fd = -1, .tmp = ""};
	csod_error why;
	if (open_input(service, in_path, &in, err) < 0)
		return finish(&out, &in, sig, -1);
	if (in.s->extract_signature(in.fd, &sig, &len, &why) < 0)
		return finish(&out, &in, sig, csod_fail(err, "%s: %s", in_path, why.msg));
	if (open_output(&out, out_path, err) < 0 || csod_pwrite_all(out.fd, sig, len, 0, err) < 0)
		return finish(&out, &in, sig, -1);
	if (fchmod(out.fd, 0644) < 0)
		return finish(&out, &in, sig,
		              csod_fail_errno(err, "%s: cannot set its mode", out_path));
	return finish(&out, &in, sig, csod_stage_publish(out.tmp, out_path, sync, err));
}

/* The signature file's PKCS#7 in DER: as it is, or decoded from PEM
 * (osslsigncode extract-signature -pem). */
static int read_signature(const char *path, unsigned char **der, size_t *len, csod_error *err)
{
	*der = NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int rc = csod_fail_errno(err, "%s", path);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	unsigned char *buf = NULL;
	int rc = -1;
	if (!S_ISREG(st.st_mode) || st.st_size == 0 || st.st_size > MAX_SIG_FILE)
		csod_fail(err, "%s: not a signature file (a regular file of 1 byte to %u MiB)",
		          path, MAX_SIG_FILE >> 20);
	else if (!(buf = malloc((size_t)st.st_size)))
		csod_fail(err, "out of memory");
	else if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
		csod_fail_errno(err, "%s: cannot read", path);
	else
		rc = 0;
	close(fd);
	if (rc == 0 && memcmp(buf, "-----BEGIN", st.st_size >= 10 ? 10 : (size_t)st.st_size) == 0) {
		BIO *b = BIO_new_mem_buf(buf, (int)st.st_size);
		PKCS7 *p7 = b ? PEM_read_bio_PKCS7(b, NULL, NULL, NULL) : NULL;
		unsigned char *d = NULL;
		int n = p7 ? i2d_PKCS7(p7, &d) : -1;
		rc = n <= 0 ? csod_fail(err, "%s: not a PEM PKCS#7 signature", path)
		     : !(*der = malloc((size_t)n)) ? csod_fail(err, "out of memory")
		                                   : 0;
		if (rc == 0)
			memcpy(*der, d, (size_t)n);
		*len = rc == 0 ? (size_t)n : 0;
		OPENSSL_free(d);
		PKCS7_free(p7);
		BIO_free(b);
		free(buf);
		return rc;
	}
	if (rc < 0) {
		free(buf);
		return -1;
	}
	*der = buf;
	*len = (size_t)st.st_size;
	return 0;
}

int csod_attach_to(const char *service, const char *sig_path, const char *in_path,
                   const char *out_path, X509_STORE *trust, int sync, csod_error *err)
{
	input in = {.fd = -1};
	unsigned char *sig = NULL;
	size_t len = 0;
	output out = {.fd = -1, .tmp = ""};
	csod_error why;
	if (read_signature(sig_path, &sig, &len, err) < 0 ||
	    open_input(service, in_path, &in, err) < 0 || open_output(&out, out_path, err) < 0)
		return finish(&out, &in, sig, -1);
	if (in.s->attach_signature(in.fd, out.fd, sig, len, &why) < 0)
		return finish(
		    &out, &in, sig,
		    csod_fail(err, "%s: cannot attach %s: %s", in_path, sig_path, why.msg));
	if (trust && in.s->verify(in.fd, out.fd, trust, &why) < 0) {
		/* A hash that differs: the file is not the one that was signed. */
		const char *hint = strstr(why.msg, "does not match the signed one")
		                       ? " (it was made for another file)"
		                       : "";
		return finish(&out, &in, sig,
		              csod_fail(err, "%s: the signature in %s does not verify on it: %s%s",
		                        in_path, sig_path, why.msg, hint));
	}
	if (fchmod(out.fd, in.st.st_mode & 0755) < 0)
		return finish(&out, &in, sig,
		              csod_fail_errno(err, "%s: cannot set its mode", out_path));
	return finish(&out, &in, sig, csod_stage_publish(out.tmp, out_path, sync, err));
}
