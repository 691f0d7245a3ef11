/* Authenticode for PE files (EXE, DLL, SYS, EFI, ...): the output is the
 * input, padded to 8 bytes, with a WIN_CERTIFICATE appended and the
 * certificate-table entry and PE checksum patched. Streams: the input is
 * copied (copy_file_range where possible) and hashed in chunks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/fsutil.h"
#include "../signer.h"
#include "pe_format.h"
#include "spc.h"

#define WIN_CERT_REVISION_2            0x0200
#define WIN_CERT_TYPE_PKCS_SIGNED_DATA 0x0002
#define MAX_SIGNATURE                  (16 << 20)

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* Copies in[0, len) to out[0, len). */
static int copy_prefix(int in, int out, uint64_t len, csod_error *err)
{
	loff_t ioff = 0, ooff = 0;
	while ((uint64_t)ioff < len) {
		ssize_t n = copy_file_range(in, &ioff, out, &ooff, len - (uint64_t)ioff, 0);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return csod_fail(err, "the input is shorter than its headers say");
		break; /* not supported here: plain reads and writes */
	}
	unsigned char buf[1 << 16];
	while ((uint64_t)ioff < len) {
		size_t want =
		    len - (uint64_t)ioff < sizeof buf ? (size_t)(len - (uint64_t)ioff) : sizeof buf;
		ssize_t n = pread(in, buf, want, ioff);
		if (n <= 0)
			return csod_fail_errno(err, "cannot read the input");
		if (csod_pwrite_all(out, buf, (size_t)n, ooff, err) < 0)
			return -1;
		ioff += n;
		ooff += n;
	}
	return 0;
}

/* Anything starting with MZ is taken as a PE attempt, so that check()
 * can say precisely what is wrong with a broken one. */
static int pe_detect(const unsigned char *head, size_t len, off_t size)
{
	(void)size;
	return len >= 2 && head[0] == 'M' && head[1] == 'Z';
}

/* The existing signature of a signed file, for appending to it. */
static PKCS7 *read_signature(int fd, const csod_pe *pe, csod_error *err)
{
	if (!pe->cert_table) {
		csod_fail(err, "the file is not signed");
		return NULL;
	}
	if (pe->cert_size > MAX_SIGNATURE || pe->cert_size < 8) {
		csod_fail(err, "the certificate table has an implausible size (%u)", pe->cert_size);
		return NULL;
	}
	unsigned char *buf = malloc(pe->cert_size);
	PKCS7 *p7 = NULL;
	if (buf && pread(fd, buf, pe->cert_size, pe->cert_table) == (ssize_t)pe->cert_size) {
		uint32_t len = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 |
		               (uint32_t)buf[3] << 24;
		uint16_t type = (uint16_t)(buf[6] | buf[7] << 8);
		const unsigned char *p = buf + 8;
		if (len >= 8 && len <= pe->cert_size && type == WIN_CERT_TYPE_PKCS_SIGNED_DATA)
			p7 = d2i_PKCS7(NULL, &p, (long)len - 8);
	}
	free(buf);
	if (!p7)
		csod_fail(err, "the existing signature does not parse");
	return p7;
}

typedef struct pe_hash_ctx {
	int fd;
	const csod_pe *pe;
} pe_hash_ctx;

static int hash_image(void *ctx, const EVP_MD *md, unsigned char *digest, unsigned *len,
                      csod_error *err)
{
	pe_hash_ctx *c = ctx;
	return csod_pe_image_hash(c->fd, c->pe, c->pe->file_size, md, digest, len, err);
}

static int pe_sign(int in, int out, const csod_identity *id, const csod_sign_options *opt,
                   csod_error *err)
{
	csod_pe pe;
	if (csod_pe_parse(in, &pe, err) < 0)
		return -1;
	PKCS7 *existing = NULL;
	if (opt->append && pe.cert_table && !(existing = read_signature(in, &pe, err)))
		return -1;
	/* Without the old signature, padded to 8 bytes, entry cleared. */
	uint64_t end = pe.cert_table ? pe.cert_table : pe.file_size;
	uint64_t padded = (end + 7) & ~7ULL;
	static const unsigned char zeros[8];
	unsigned char empty_entry[8] = {0};
	int rc = -1;
	PKCS7 *p7 = NULL;
	unsigned char *der = NULL;
	if (copy_prefix(in, out, end, err) < 0 ||
	    (padded > end && csod_pwrite_all(out, zeros, padded - end, (off_t)end, err) < 0) ||
	    csod_pwrite_all(out, empty_entry, 8, pe.certdir_offset, err) < 0)
		goto out;
	csod_pe out_pe;
	if (csod_pe_parse(out, &out_pe, err) < 0)
		goto out;
	csod_spc_data pe_type = {.oid = SPC_PE_IMAGE_DATA};
	pe_type.value_len = csod_spc_pe_image_data(pe_type.value, sizeof pe_type.value);
	pe_hash_ctx hash_ctx = {out, &out_pe};
	if (!(p7 = csod_spc_sign_digests(id, opt, &pe_type, existing, hash_image, &hash_ctx, err)))
		goto out;
	existing = NULL; /* owned by p7 now, if it was used */
	int der_len = i2d_PKCS7(p7, &der);
	if (der_len <= 0) {
		csod_fail(err, "cannot encode the signature");
		goto out;
	}
	uint32_t cert_len = (uint32_t)((8 + (uint64_t)der_len + 7) & ~7ULL);
	unsigned char header[8];
	put32(header, cert_len);
	header[4] = WIN_CERT_REVISION_2 & 0xff;
	header[5] = WIN_CERT_REVISION_2 >> 8;
	header[6] = WIN_CERT_TYPE_PKCS_SIGNED_DATA;
	header[7] = 0;
	unsigned char entry[8];
	put32(entry, (uint32_t)padded);
	put32(entry + 4, cert_len);
	if (padded + cert_len > UINT32_MAX) {
		csod_fail(err, "the signed file would exceed 4 GB");
		goto out;
	}
	if (csod_pwrite_all(out, header, 8, (off_t)padded, err) < 0 ||
	    csod_pwrite_all(out, der, (size_t)der_len, (off_t)padded + 8, err) < 0 ||
	    csod_pwrite_all(out, zeros, cert_len - 8 - (uint32_t)der_len,
	                    (off_t)padded + 8 + der_len, err) < 0 ||
	    csod_pwrite_all(out, entry, 8, out_pe.certdir_offset, err) < 0)
		goto out;
	csod_pe final;
	uint32_t sum;
	unsigned char sum_le[4];
	if (csod_pe_parse(out, &final, err) < 0 || csod_pe_checksum(out, &final, &sum, err) < 0)
		goto out;
	put32(sum_le, sum);
	rc = csod_pwrite_all(out, sum_le, 4, final.checksum_offset, err);
out:
	OPENSSL_free(der);
	PKCS7_free(p7);
	if (existing)
		PKCS7_free(existing);
	return rc;
}

typedef struct hash_check {
	int fd;
	const csod_pe *pe;
} hash_check;

static int check_image_hash(void *ctx, const EVP_MD *md, const unsigned char *digest, size_t len,
                            csod_error *err)
{
	hash_check *c = ctx;
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned hash_len = 0;
	if (csod_pe_image_hash(c->fd, c->pe, c->pe->cert_table, md, hash, &hash_len, err) < 0)
		return -1;
	if (hash_len != len || memcmp(hash, digest, len) != 0)
		return csod_fail(err, "the %s image hash does not match the signed one",
		                 EVP_MD_get0_name(md));
	return 0;
}

static int pe_verify(int in, int out, X509_STORE *trust, csod_error *err)
{
	(void)in;
	csod_pe pe;
	if (csod_pe_parse(out, &pe, err) < 0)
		return -1;
	PKCS7 *p7 = read_signature(out, &pe, err);
	if (!p7)
		return -1;
	hash_check ctx = {out, &pe};
	int rc = csod_spc_verify(p7, trust, check_image_hash, &ctx, err);
	PKCS7_free(p7);
	uint32_t sum, stored;
	unsigned char le[4];
	if (rc == 0 && (csod_pe_checksum(out, &pe, &sum, err) < 0 ||
	                pread(out, le, 4, pe.checksum_offset) != 4))
		rc = -1;
	stored =
	    (uint32_t)le[0] | (uint32_t)le[1] << 8 | (uint32_t)le[2] << 16 | (uint32_t)le[3] << 24;
	if (rc == 0 && sum != stored)
		rc = csod_fail(err, "the PE checksum is wrong");
	return rc;
}

static int pe_check(int fd, const char *name, csod_error *err)
{
	csod_pe pe;
	csod_error why;
	if (csod_pe_parse(fd, &pe, &why) < 0)
		return csod_fail(err, "%s: %s", name, why.msg);
	return 0;
}

const csod_signer csod_signer_pe = {
    .name = "pe",
    .service = "authenticode",
    .detect = pe_detect,
    .check = pe_check,
    .output_name = NULL,
    .sign = pe_sign,
    .verify = pe_verify,
};
