/* Authenticode for Microsoft Cabinet files: the signature's place lives in
 * a 20-byte reserved area of the CFHEADER (inserted when the cabinet has
 * none, which moves coffFiles and every folder's data offset by 24 bytes),
 * and the PKCS#7 itself follows the cabinet, padded to 8 bytes. Streams:
 * the input is copied with its header patched, then hashed in one read. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/fileio.h"
#include "../signer.h"
#include "cab_format.h"
#include "spc.h"

#define INSERTED      (CAB_RESERVE_FIELDS + CAB_SIG_RESERVE)
#define COMPARE_CHUNK (1 << 16)

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Any MSCF file is taken as a CAB attempt, so that check() can say
 * precisely what is wrong with a broken one. */
static int cab_detect(const unsigned char *head, size_t len, off_t size)
{
	(void)size;
	return len >= 4 && memcmp(head, "MSCF", 4) == 0;
}

static int cab_check(int fd, const char *name, csod_error *err)
{
	csod_cab cab;
	csod_error why;
	if (csod_cab_parse(fd, &cab, &why) < 0)
		return csod_fail(err, "%s: %s", name, why.msg);
	return 0;
}

static PKCS7 *read_signature(int fd, const csod_cab *cab, csod_error *err)
{
	if (!cab->sig_offset)
		return csod_fail(err, "the cabinet is not signed"), NULL;
	unsigned char *buf = malloc(cab->sig_size);
	PKCS7 *p7 = NULL;
	if (buf && pread(fd, buf, cab->sig_size, cab->sig_offset) == (ssize_t)cab->sig_size) {
		const unsigned char *p = buf;
		p7 = d2i_PKCS7(NULL, &p, (long)cab->sig_size);
	}
	free(buf);
	if (!p7)
		csod_fail(err, "the cabinet's signature does not parse");
	return p7;
}

/* Writes the cabinet part of the output: the input as it is when it has a
 * signature area (the old signature left behind, its place cleared), else
 * with the area inserted after the fixed header. */
static int write_cabinet(int in, const csod_cab *cab, int out, csod_error *err)
{
	static const unsigned char no_place[8];
	if (cab->has_signature_area)
		return csod_copy_range(in, 0, out, 0, cab->cb_cabinet, err) < 0 ||
		               csod_pwrite_all(out, no_place, 8, CAB_OFF_SIG_OFFSET, err) < 0
		           ? -1
		           : 0;
	if ((uint64_t)cab->cb_cabinet + INSERTED + CAB_MAX_SIGNATURE > UINT32_MAX)
		return csod_fail(err, "the signed cabinet would exceed 4 GB");
	unsigned char head[CAB_SIGNED_HEADER] = {0};
	if (pread(in, head, CAB_HEADER_SIZE, 0) != CAB_HEADER_SIZE)
		return csod_fail_errno(err, "cannot read the header");
	put32(head + CAB_OFF_CB_CABINET, cab->cb_cabinet + INSERTED);
	put32(head + CAB_OFF_COFF_FILES, cab->coff_files + INSERTED);
	head[CAB_OFF_FLAGS] |= CAB_FLAG_RESERVE;
	head[CAB_HEADER_SIZE] = CAB_SIG_RESERVE; /* cbCFHeader; cbCFFolder = cbCFData = 0 */
	put32(head + CAB_HEADER_SIZE + CAB_RESERVE_FIELDS, CAB_SIG_AREA_MARKER);
	if (csod_pwrite_all(out, head, sizeof head, 0, err) < 0 ||
	    csod_copy_range(in, CAB_HEADER_SIZE, out, CAB_SIGNED_HEADER,
	                    cab->cb_cabinet - CAB_HEADER_SIZE, err) < 0)
		return -1;
	/* Every folder's data moved by the inserted bytes. */
	for (uint32_t i = 0; i < cab->n_folders; i++) {
		unsigned char start[4];
		off_t at = CAB_SIGNED_HEADER + (off_t)i * CAB_FOLDER_SIZE;
		if (pread(out, start, 4, at) != 4)
			return csod_fail_errno(err, "cannot read back folder %u", i + 1);
		put32(start, get32(start) + INSERTED);
		if (csod_pwrite_all(out, start, 4, at, err) < 0)
			return -1;
	}
	return 0;
}

/* The cabinet hashes for every digest asked for, computed in one read and
 * handed to the signature builder one by one. */
static int hash_all(int fd, const csod_cab *cab, const csod_sign_options *opt, csod_spc_hashes *h,
                    csod_error *err)
{
	if (csod_spc_hashes_for(opt, h, err) < 0)
		return -1;
	return csod_cab_hash(fd, cab, h->md, h->n, h->value, h->len, err);
}

static void cab_data_type(csod_spc_data *type)
{
	type->oid = SPC_CAB_DATA;
	type->value_len = csod_spc_obsolete_link(type->value, sizeof type->value);
}

/* Appends the signature after the cabinet, padded to 8 bytes, and records
 * its place in the reserved area. */
static int write_signature(int out, const csod_cab *cab, PKCS7 *p7, csod_error *err)
{
	unsigned char *der = NULL;
	int der_len = i2d_PKCS7(p7, &der);
	if (der_len <= 0)
		return csod_fail(err, "cannot encode the signature");
	uint32_t padded = ((uint32_t)der_len + 7) & ~7u;
	static const unsigned char zeros[8];
	unsigned char place[8];
	put32(place, cab->cb_cabinet);
	put32(place + 4, padded);
	int rc = -1;
	if (padded > CAB_MAX_SIGNATURE || (uint64_t)cab->cb_cabinet + padded > UINT32_MAX)
		csod_fail(err, "the signature (%u bytes) does not fit in a CAB under 4 GB", padded);
	else if (csod_pwrite_all(out, der, (size_t)der_len, cab->cb_cabinet, err) == 0 &&
	         csod_pwrite_all(out, zeros, padded - (uint32_t)der_len,
	                         (off_t)cab->cb_cabinet + der_len, err) == 0 &&
	         csod_pwrite_all(out, place, sizeof place, CAB_OFF_SIG_OFFSET, err) == 0)
		rc = 0;
	OPENSSL_free(der);
	return rc;
}

static int cab_sign(int in, int out, const csod_identity *id, const csod_sign_options *opt,
                    csod_error *err)
{
	csod_cab cab, out_cab;
	csod_spc_hashes h;
	csod_spc_data type;
	PKCS7 *existing = NULL, *p7 = NULL;
	if (csod_cab_parse(in, &cab, err) < 0)
		return -1;
	if (opt->append && cab.sig_offset && !(existing = read_signature(in, &cab, err)))
		return -1;
	int rc = -1;
	if (write_cabinet(in, &cab, out, err) < 0 || csod_cab_parse(out, &out_cab, err) < 0 ||
	    hash_all(out, &out_cab, opt, &h, err) < 0)
		goto out;
	cab_data_type(&type);
	if (!(p7 = csod_spc_sign_digests(id, opt, &type, existing, csod_spc_precomputed_hash, &h,
	                                 err)))
		goto out;
	existing = NULL; /* owned by p7 now, if it was used */
	rc = write_signature(out, &out_cab, p7, err);
out:
	PKCS7_free(p7);
	PKCS7_free(existing);
	return rc;
}

typedef struct hash_check {
	int fd;
	const csod_cab *cab;
} hash_check;

static int check_cabinet_hash(void *ctx, const EVP_MD *md, const unsigned char *digest, size_t len,
                              csod_error *err)
{
	const hash_check *c = ctx;
	unsigned char hash[1][EVP_MAX_MD_SIZE];
	unsigned hash_len = 0;
	if (csod_cab_hash(c->fd, c->cab, &md, 1, hash, &hash_len, err) < 0)
		return -1;
	if (hash_len != len || memcmp(hash[0], digest, len) != 0)
		return csod_fail(err, "the %s cabinet hash does not match the signed one",
		                 EVP_MD_get0_name(md));
	return 0;
}

static int same_bytes(int a, uint64_t a_at, int b, uint64_t b_at, uint64_t len, csod_error *err)
{
	unsigned char *x = malloc(2 * COMPARE_CHUNK);
	int rc = x ? 0 : csod_fail(err, "out of memory");
	for (uint64_t done = 0; rc == 0 && done < len;) {
		size_t want = len - done < COMPARE_CHUNK ? (size_t)(len - done) : COMPARE_CHUNK;
		if (pread(a, x, want, (off_t)(a_at + done)) != (ssize_t)want ||
		    pread(b, x + COMPARE_CHUNK, want, (off_t)(b_at + done)) != (ssize_t)want)
			rc = csod_fail(err, "cannot read the cabinets to compare them");
		else if (memcmp(x, x + COMPARE_CHUNK, want) != 0)
			rc = -1;
		done += want;
	}
	free(x);
	return rc;
}

/* The signed cabinet holds exactly the input's folders, files and data:
 * the same table entries (their data offsets moved by the same amount)
 * and the same bytes from the first file entry on. */
static int same_content(int in, const csod_cab *a, int out, const csod_cab *b, csod_error *err)
{
	uint64_t a_len = a->sig_offset ? a->sig_offset : a->file_size;
	if (a->n_folders != b->n_folders || a->n_files != b->n_files ||
	    a_len - a->coff_files != (uint64_t)b->cb_cabinet - b->coff_files)
		return csod_fail(err,
		                 "the signed cabinet's folders or files differ from the input's");
	for (uint32_t i = 0; i < a->n_folders; i++) {
		unsigned char fa[CAB_FOLDER_SIZE], fb[CAB_FOLDER_SIZE];
		if (pread(in, fa, sizeof fa, a->folders_at + i * CAB_FOLDER_SIZE) != sizeof fa ||
		    pread(out, fb, sizeof fb, b->folders_at + i * CAB_FOLDER_SIZE) != sizeof fb)
			return csod_fail(err, "cannot read the folder tables");
		if (get32(fa) - a->coff_files != get32(fb) - b->coff_files ||
		    memcmp(fa + 4, fb + 4, 4) != 0)
			return csod_fail(
			    err, "the signed cabinet's folder %u differs from the input's", i + 1);
	}
	csod_error why;
	if (same_bytes(in, a->coff_files, out, b->coff_files, a_len - a->coff_files, &why) < 0)
		return csod_fail(err, "the signed cabinet's files differ from the input's%s%s",
		                 why.msg[0] ? ": " : "", why.msg);
	return 0;
}

static int cab_verify(int in, int out, X509_STORE *trust, csod_error *err)
{
	csod_cab in_cab, cab;
	if (csod_cab_parse(in, &in_cab, err) < 0 || csod_cab_parse(out, &cab, err) < 0 ||
	    same_content(in, &in_cab, out, &cab, err) < 0)
		return -1;
	PKCS7 *p7 = read_signature(out, &cab, err);
	if (!p7)
		return -1;
	hash_check ctx = {out, &cab};
	int rc = csod_spc_verify(p7, trust, check_cabinet_hash, &ctx, err);
	PKCS7_free(p7);
	return rc;
}

const csod_signer csod_signer_cab = {
    .name = "cab",
    .service = "authenticode",
    .detect = cab_detect,
    .check = cab_check,
    .output_name = NULL,
    .sign = cab_sign,
    .verify = cab_verify,
};
