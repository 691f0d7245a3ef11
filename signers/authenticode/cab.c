/* Authenticode for Microsoft Cabinet files: the signature's place lives in
 * a 20-byte reserved area of the CFHEADER (inserted when the cabinet has
 * none, which moves coffFiles and every folder's data offset by 24 bytes),
 * and the PKCS#7 itself follows the cabinet, padded to 8 bytes. Streams:
 * the input is copied with its header patched, then hashed in one read. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/fileio.h"
#include "../common/scan.h"
#include "../signer.h"
#include "cab_format.h"
#include "detached.h"
#include "spc.h"

#define INSERTED (CAB_RESERVE_FIELDS + CAB_SIG_RESERVE)

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

/* Writes the output's header and folder table (up to the first file
 * entry): the input's as they are when it has a signature area (its place
 * cleared), else with the area inserted after the fixed header. The rest
 * of the cabinet follows unchanged, moved by the inserted bytes. */
static int write_head(int in, const csod_cab *cab, int out, csod_error *err)
{
	static const unsigned char no_place[8];
	if (cab->has_signature_area)
		return csod_copy_range(in, 0, out, 0, cab->coff_files, err) < 0 ||
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
	                    cab->coff_files - CAB_HEADER_SIZE, err) < 0)
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

/* What the cabinet hash leaves out: reserved1, and iCabinet, the reserve
 * sizes and the signature's place. */
#define HOLES_AT                                                                                   \
	{                                                                                          \
		4, 34                                                                              \
	}
#define HOLES_LEN                                                                                  \
	{                                                                                          \
		4, 22                                                                              \
	}

/* Starts the digests of h and feeds them the output's head, [0, head_len)
 * of out, already written. */
static int hash_head(int out, uint64_t head_len, EVP_MD_CTX **md, const csod_spc_hashes *h,
                     csod_error *err)
{
	csod_scan s = {.fd = out,
	               .to = head_len,
	               .hash_end = UINT64_MAX,
	               .hole_at = HOLES_AT,
	               .hole_len = HOLES_LEN,
	               .md = md,
	               .n_md = h->n};
	if (csod_scan_start(md, h->md, h->n, err) < 0)
		return -1;
	if (csod_scan_run(&s, err) < 0) {
		csod_scan_finish(md, h->n, NULL, NULL, err);
		return -1;
	}
	return 0;
}

/* The rest of the cabinet, from the input's first file entry, copied to the
 * output `shift` bytes further on the reader thread. */
typedef struct body_copy {
	int out;
	uint64_t shift;
} body_copy;

static int copy_chunk(void *ctx, unsigned char *buf, uint64_t pos, size_t len, csod_error *err)
{
	const body_copy *c = ctx;
	return csod_pwrite_all(c->out, buf, len, (off_t)(pos + c->shift), err);
}

/* Writes the cabinet part of the output and computes its hashes for every
 * digest asked for in one read of the input: the head is written and
 * hashed, then the body is copied on the reader thread while this thread
 * hashes the same bytes (the self-check reads the output itself). */
static int write_and_hash(int in, const csod_cab *cab, int out, const csod_cab *out_cab,
                          csod_spc_hashes *h, csod_error *err)
{
	EVP_MD_CTX *md[CSOD_MAX_DIGESTS];
	body_copy copy = {out, out_cab->coff_files - cab->coff_files};
	csod_scan body = {.fd = in,
	                  .from = cab->coff_files,
	                  .to = cab->cb_cabinet,
	                  .hash_end = UINT64_MAX,
	                  .md = md,
	                  .n_md = h->n,
	                  .on_chunk = copy_chunk,
	                  .ctx = &copy};
	if (write_head(in, cab, out, err) < 0 ||
	    hash_head(out, out_cab->coff_files, md, h, err) < 0)
		return -1;
	if (csod_scan_run(&body, err) < 0) {
		csod_scan_finish(md, h->n, NULL, NULL, err);
		return -1;
	}
	return csod_scan_finish(md, h->n, h->value, h->len, err);
}

static void cab_data_type(csod_spc_data *type)
{
	type->oid = SPC_CAB_DATA;
	type->value_len = csod_spc_obsolete_link(type->value, sizeof type->value);
}

/* Appends the signature (a PKCS#7 in DER) after the cabinet, padded to 8
 * bytes, and records its place in the reserved area. */
static int write_der(int out, const csod_cab *cab, const unsigned char *der, size_t der_len,
                     csod_error *err)
{
	if (der_len > CAB_MAX_SIGNATURE)
		return csod_fail(err, "the signature exceeds %u bytes", CAB_MAX_SIGNATURE);
	uint32_t padded = ((uint32_t)der_len + 7) & ~7u;
	static const unsigned char zeros[8];
	unsigned char place[8];
	put32(place, cab->cb_cabinet);
	put32(place + 4, padded);
	int rc = -1;
	if (padded > CAB_MAX_SIGNATURE || (uint64_t)cab->cb_cabinet + padded > UINT32_MAX)
		csod_fail(err, "the signature (%u bytes) does not fit in a CAB under 4 GB", padded);
	else if (csod_pwrite_all(out, der, der_len, cab->cb_cabinet, err) == 0 &&
	         csod_pwrite_all(out, zeros, padded - (uint32_t)der_len,
	                         (off_t)(cab->cb_cabinet + der_len), err) == 0 &&
	         csod_pwrite_all(out, place, sizeof place, CAB_OFF_SIG_OFFSET, err) == 0)
		rc = 0;
	return rc;
}

static int write_signature(int out, const csod_cab *cab, PKCS7 *p7, csod_error *err)
{
	unsigned char *der = NULL;
	int der_len = i2d_PKCS7(p7, &der);
	int rc = der_len <= 0 ? csod_fail(err, "cannot encode the signature")
	                      : write_der(out, cab, der, (size_t)der_len, err);
	OPENSSL_free(der);
	return rc;
}

/* The cabinet's layout once signed: the signature area inserted when it
 * has none (write_head checks that this cannot overflow). */
static csod_cab signed_layout(const csod_cab *cab)
{
	csod_cab out = *cab;
	if (!cab->has_signature_area) {
		out.cb_cabinet += INSERTED;
		out.coff_files += INSERTED;
	}
	return out;
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
	out_cab = signed_layout(&cab);
	if (csod_spc_hashes_for(opt, &h, err) < 0 ||
	    write_and_hash(in, &cab, out, &out_cab, &h, err) < 0)
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

/* The self-check's read of the output: per chunk, on the reader thread,
 * the bytes from the first file entry on are compared with the input's. */
typedef struct hash_check {
	int in, out;
	const csod_cab *in_cab, *cab;
	unsigned char *theirs; /* a chunk of the input, allocated when needed */
	int compared;
	const csod_spc_hashes *known; /* the output's hashes read back; may be NULL */
} hash_check;

static int compare_chunk(void *ctx, unsigned char *buf, uint64_t pos, size_t len, csod_error *err)
{
	const hash_check *c = ctx;
	uint64_t start = c->cab->coff_files; /* the files, folders' data: as the input's */
	if (pos + len <= start)
		return 0;
	size_t skip = pos < start ? (size_t)(start - pos) : 0;
	uint64_t at = pos + skip - start + c->in_cab->coff_files;
	ssize_t n = pread(c->in, c->theirs, len - skip, (off_t)at);
	if (n != (ssize_t)(len - skip))
		return csod_fail(err, "cannot read the input to compare it");
	if (memcmp(buf + skip, c->theirs, len - skip) != 0)
		return csod_fail(err, "the signed cabinet's files differ from the input's");
	return 0;
}

/* One read of the output's cabinet: the cabinet hash for the n digests of
 * h (none: only the comparison), compared with the input's as it goes. */
static int scan_output(hash_check *c, csod_spc_hashes *h, csod_error *err)
{
	EVP_MD_CTX *md[CSOD_MAX_DIGESTS];
	csod_scan s = {.fd = c->out,
	               .to = c->cab->cb_cabinet,
	               .hash_end = UINT64_MAX,
	               .hole_at = HOLES_AT,
	               .hole_len = HOLES_LEN,
	               .md = md,
	               .n_md = h->n,
	               .on_chunk = compare_chunk,
	               .ctx = c};
	if (csod_scan_start(md, h->md, h->n, err) < 0)
		return -1;
	if (csod_scan_run(&s, err) < 0) {
		csod_scan_finish(md, h->n, NULL, NULL, err);
		return -1;
	}
	c->compared = 1;
	return csod_scan_finish(md, h->n, h->value, h->len, err);
}

static int check_cabinet_hash(void *ctx, const EVP_MD *md, const unsigned char *digest, size_t len,
                              csod_error *err)
{
	hash_check *c = ctx;
	csod_spc_hashes h = {.n = 1, .md = {md}};
	int k = 0;
	while (c->known && k < c->known->n &&
	       EVP_MD_get_type(c->known->md[k]) != EVP_MD_get_type(md))
		k++;
	if (c->known && k < c->known->n) {
		/* Read back and compared with the input as it was written. */
		h.len[0] = c->known->len[k];
		memcpy(h.value[0], c->known->value[k], h.len[0]);
		c->compared = 1;
	} else if ((!c->theirs && !(c->theirs = malloc(CSOD_SCAN_CHUNK))) ||
	           scan_output(c, &h, err) < 0) {
		return c->theirs ? -1 : csod_fail(err, "out of memory");
	}
	if (h.len[0] != len || memcmp(h.value[0], digest, len) != 0)
		return csod_fail(err, "the %s cabinet hash does not match the signed one",
		                 EVP_MD_get0_name(md));
	return 0;
}

/* The signed cabinet holds exactly the input's folders, files and data:
 * the same table entries (their data offsets moved by the same amount)
 * here, the same bytes from the first file entry on in scan_output. */
static int same_tables(int in, const csod_cab *a, int out, const csod_cab *b, csod_error *err)
{
	/* The parser holds cbCabinet to the cabinet's end (before any signature). */
	if (a->n_folders != b->n_folders || a->n_files != b->n_files ||
	    (uint64_t)a->cb_cabinet - a->coff_files != (uint64_t)b->cb_cabinet - b->coff_files)
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
	return 0;
}

/* The self-check proper, on the finished output: parsed on its own, the
 * same tables as the input's, a signature that verifies and chains, whose
 * cabinet hash matches the output's. known (may be NULL) holds hashes of
 * the output's [0, known_end) read back while it was written; a digest
 * not among them is computed by reading the output again. */
static int check_output(int in, const csod_cab *in_cab, int out, const csod_spc_hashes *known,
                        uint64_t known_end, X509_STORE *trust, csod_error *err)
{
	csod_cab cab;
	if (csod_cab_parse(out, &cab, err) < 0 || same_tables(in, in_cab, out, &cab, err) < 0)
		return -1;
	if (!cab.has_signature_area)
		return csod_fail(err, "the signed cabinet has no signature area");
	if (known && known_end != cab.cb_cabinet)
		return csod_fail(err, "the signed cabinet ends at %u, not where it was written",
		                 cab.cb_cabinet);
	PKCS7 *p7 = read_signature(out, &cab, err);
	hash_check ctx = {in, out, in_cab, &cab, NULL, 0, known};
	int rc = -1;
	if (p7)
		rc = csod_spc_verify(p7, trust, check_cabinet_hash, &ctx, err);
	/* A signature checked in full (csod_spc_verify) ran check_cabinet_hash. */
	if (rc == 0 && !ctx.compared)
		rc = csod_fail(err, "the cabinet was not compared with the input");
	PKCS7_free(p7);
	free(ctx.theirs);
	return rc;
}

static int cab_verify(int in, int out, X509_STORE *trust, csod_error *err)
{
	csod_cab in_cab;
	if (csod_cab_parse(in, &in_cab, err) < 0)
		return -1;
	return check_output(in, &in_cab, out, NULL, 0, trust, err);
}

/* The body's pass for sign_checked, split over the two threads so that
 * neither waits on the other: the reader thread writes each chunk of the
 * input to the output and hashes it for the signature; the calling
 * thread then reads that chunk back from the output, compares it with
 * the input's and feeds the read-back bytes to the self-check's own
 * hashes. The check's read so costs the second core's time, not a second
 * pass after signing. */
typedef struct read_back {
	body_copy copy;
	unsigned char *back;
	EVP_MD_CTX **md, **back_md; /* the signature's hashes, the check's */
	int n_md;
} read_back;

static int copy_and_hash(void *ctx, unsigned char *buf, uint64_t pos, size_t len, csod_error *err)
{
	read_back *r = ctx;
	if (csod_pwrite_all(r->copy.out, buf, len, (off_t)(pos + r->copy.shift), err) < 0)
		return -1;
	/* From the first file entry on the cabinet hash has no holes. */
	for (int k = 0; k < r->n_md; k++)
		if (!EVP_DigestUpdate(r->md[k], buf, len))
			return csod_fail(err, "the hash failed");
	return 0;
}

static int read_back_and_hash(void *ctx, unsigned char *buf, uint64_t pos, size_t len,
                              csod_error *err)
{
	read_back *r = ctx;
	if (pread(r->copy.out, r->back, len, (off_t)(pos + r->copy.shift)) != (ssize_t)len)
		return csod_fail_errno(err, "cannot read the output back");
	if (memcmp(r->back, buf, len) != 0)
		return csod_fail(err, "the output reads back differently from what was written");
	for (int k = 0; k < r->n_md; k++)
		if (!EVP_DigestUpdate(r->back_md[k], r->back, len))
			return csod_fail(err, "the read-back hash failed");
	return 0;
}

static int cab_sign_checked(int in, int out, const csod_identity *id, const csod_sign_options *opt,
                            X509_STORE *trust, csod_error *err)
{
	csod_cab cab, out_cab;
	csod_spc_hashes h, back;
	EVP_MD_CTX *md[CSOD_MAX_DIGESTS], *back_md[CSOD_MAX_DIGESTS];
	PKCS7 *existing = NULL, *p7 = NULL;
	if (csod_cab_parse(in, &cab, err) < 0)
		return CSOD_SIGN_FAILED;
	if (opt->append && cab.sig_offset && !(existing = read_signature(in, &cab, err)))
		return CSOD_SIGN_FAILED;
	out_cab = signed_layout(&cab);
	int rc = CSOD_SIGN_FAILED, started = 0;
	read_back rb = {
	    {out, out_cab.coff_files - cab.coff_files}, malloc(CSOD_SCAN_CHUNK), md, back_md, 0};
	if (!rb.back) {
		csod_fail(err, "out of memory");
		goto out;
	}
	if (csod_spc_hashes_for(opt, &h, err) < 0 || write_head(in, &cab, out, err) < 0 ||
	    hash_head(out, out_cab.coff_files, md, &h, err) < 0)
		goto out;
	back = h;
	rb.n_md = back.n;
	if (hash_head(out, out_cab.coff_files, back_md, &back, err) < 0) {
		csod_scan_finish(md, h.n, NULL, NULL, err);
		goto out;
	}
	started = 1;
	/* Neither hash is the scan's own: each thread feeds its own. */
	csod_scan body = {.fd = in,
	                  .from = cab.coff_files,
	                  .to = cab.cb_cabinet,
	                  .hash_end = UINT64_MAX,
	                  .on_chunk = copy_and_hash,
	                  .after_hash = read_back_and_hash,
	                  .ctx = &rb};
	if (csod_scan_run(&body, err) < 0)
		goto out;
	started = 0;
	int signed_hash = csod_scan_finish(md, h.n, h.value, h.len, err);
	int read_back_hash = csod_scan_finish(back_md, back.n, back.value, back.len, err);
	if (signed_hash < 0 || read_back_hash < 0)
		goto out;
	csod_spc_data type;
	cab_data_type(&type);
	if (!(p7 = csod_spc_sign_digests(id, opt, &type, existing, csod_spc_precomputed_hash, &h,
	                                 err)))
		goto out;
	existing = NULL; /* owned by p7 now, if it was used */
	if (write_signature(out, &out_cab, p7, err) < 0)
		goto out;
	rc = check_output(in, &cab, out, &back, out_cab.cb_cabinet, trust, err) < 0
	         ? CSOD_CHECK_FAILED
	         : 0;
out:
	if (started) {
		csod_scan_finish(md, h.n, NULL, NULL, err);
		csod_scan_finish(back_md, back.n, NULL, NULL, err);
	}
	free(rb.back);
	PKCS7_free(p7);
	PKCS7_free(existing);
	return rc;
}

/* The PKCS#7 after the cabinet, as osslsigncode's extract-signature gives it. */
static int cab_extract(int fd, unsigned char **sig, size_t *len, csod_error *err)
{
	csod_cab cab;
	if (csod_cab_parse(fd, &cab, err) < 0)
		return -1;
	if (!cab.sig_offset)
		return csod_fail(err, "the cabinet is not signed");
	unsigned char *buf = malloc(cab.sig_size);
	int rc = !buf ? csod_fail(err, "out of memory")
	         : pread(fd, buf, cab.sig_size, cab.sig_offset) != (ssize_t)cab.sig_size
	             ? csod_fail_errno(err, "cannot read the signature")
	             : csod_detached_take(buf, cab.sig_size, sig, len, err);
	free(buf);
	return rc;
}

/* As cab_sign without appending, with the signature given. */
static int cab_attach(int in, int out, const unsigned char *sig, size_t len, csod_error *err)
{
	if (csod_detached_check(sig, len, err) < 0)
		return -1;
	csod_cab cab;
	csod_spc_hashes none = {.n = 0};
	if (csod_cab_parse(in, &cab, err) < 0)
		return -1;
	csod_cab out_cab = signed_layout(&cab);
	if (write_and_hash(in, &cab, out, &out_cab, &none, err) < 0)
		return -1;
	return write_der(out, &out_cab, sig, len, err);
}

const csod_signer csod_signer_cab = {
    .name = "cab",
    .service = "authenticode",
    .detect = cab_detect,
    .check = cab_check,
    .output_name = NULL,
    .sign = cab_sign,
    .verify = cab_verify,
    .sign_checked = cab_sign_checked,
    .extract_signature = cab_extract,
    .attach_signature = cab_attach,
};
