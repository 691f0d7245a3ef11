/* Authenticode for PE files (EXE, DLL, SYS, EFI, ...): the output is the
 * input, padded to 8 bytes, with a WIN_CERTIFICATE appended and the
 * certificate-table entry and PE checksum patched. Nesting puts our
 * signatures into the first entry's (the one Windows reads) and copies
 * every further entry through byte for byte. Streams: the input is copied
 * (copy_file_range where possible) and hashed in chunks. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/fileio.h"
#include "../common/scan.h"
#include "../signer.h"
#include "detached.h"
#include "pe_certs.h"
#include "pe_format.h"
#include "spc.h"

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* Anything starting with MZ is taken as a PE attempt, so that check()
 * can say precisely what is wrong with a broken one. */
static int pe_detect(const unsigned char *head, size_t len, off_t size)
{
	(void)size;
	return len >= 2 && head[0] == 'M' && head[1] == 'Z';
}

/* What the reader thread does with each chunk of a PE: copies it to the
 * output (when signing), then adds it to the checksum's sum with the
 * checksum field and the certificate-table entry as zero. */
typedef struct pe_reading {
	const csod_pe *pe;
	int out; /* -1: not copied */
	uint64_t word_sum;
} pe_reading;

/* Clears what of buf (the file's bytes [pos, pos + n)) lies in [at, at + len). */
static void clear_field(unsigned char *buf, uint64_t pos, size_t n, uint64_t at, size_t len)
{
	for (uint64_t i = at; i < at + len; i++)
		if (i >= pos && i < pos + n)
			buf[i - pos] = 0;
}

static int on_pe_chunk(void *ctx, unsigned char *buf, uint64_t pos, size_t len, csod_error *err)
{
	pe_reading *r = ctx;
	if (r->out >= 0 && csod_pwrite_all(r->out, buf, len, (off_t)pos, err) < 0)
		return -1;
	clear_field(buf, pos, len, r->pe->checksum_offset, 4);
	clear_field(buf, pos, len, r->pe->certdir_offset, 8);
	r->word_sum += csod_pe_sum_at(pos, buf, len);
	return 0;
}

/* One read of fd's [0, read_end), copied to out unless out is -1: the
 * Authenticode image hash over [0, hash_end) but the checksum field and
 * the certificate-table entry, for each of the n digests (zeros past
 * read_end: the padding to 8 bytes), and the checksum's word sum. */
static int scan_pe(int fd, int out, const csod_pe *pe, uint64_t read_end, uint64_t hash_end,
                   csod_spc_hashes *h, uint64_t *word_sum, const csod_sign_options *opt,
                   csod_error *err)
{
	EVP_MD_CTX *md[CSOD_MAX_DIGESTS];
	pe_reading reading = {pe, out, 0};
	csod_scan s = {.fd = fd,
	               .from = 0,
	               .to = read_end,
	               .hash_end = hash_end,
	               .hole_at = {pe->checksum_offset, pe->certdir_offset},
	               .hole_len = {4, 8},
	               .md = md,
	               .n_md = h->n,
	               .on_chunk = on_pe_chunk,
	               .ctx = &reading,
	               .progress = opt ? opt->progress : NULL,
	               .progress_ctx = opt ? opt->progress_ctx : NULL};
	if (csod_scan_start(md, h->md, h->n, err) < 0)
		return -1;
	if (csod_scan_run(&s, err) < 0) {
		csod_scan_finish(md, h->n, NULL, NULL, err);
		return -1;
	}
	static const unsigned char zeros[8];
	for (int k = 0; hash_end > read_end && k < h->n; k++)
		EVP_DigestUpdate(md[k], zeros, hash_end - read_end < 8 ? hash_end - read_end : 8);
	*word_sum = reading.word_sum;
	return csod_scan_finish(md, h->n, h->value, h->len, err);
}

/* The entries after the first of the input's certificate table, which
 * nesting keeps: their bytes and their length. */
typedef struct cert_tail {
	const unsigned char *p;
	uint32_t len;
} cert_tail;

/* Appends the WIN_CERTIFICATE holding der (a PKCS#7) at padded, then tail (padded to 8
 * bytes), points the certificate-table entry at them and writes the
 * checksum: word_sum (the output's words up to padded, entry and checksum
 * as zero) plus what this writes. */
static int append_signature(int out, const csod_pe *pe, uint64_t padded, uint64_t word_sum,
                            const unsigned char *der, size_t der_len, cert_tail tail,
                            csod_error *err)
{
	if (der_len > CSOD_PE_MAX_CERT_TABLE)
		return csod_fail(err, "the signature exceeds %u bytes", CSOD_PE_MAX_CERT_TABLE);
	static const unsigned char zeros[8];
	uint32_t cert_len = (uint32_t)((8 + (uint64_t)der_len + 7) & ~7ULL);
	int rc = -1;
	uint64_t tail_at = padded + cert_len, tail_len = (tail.len + 7ULL) & ~7ULL;
	unsigned char header[8], entry[8], sum_le[4];
	put32(header, cert_len);
	header[4] = CSOD_WIN_CERT_REVISION_2 & 0xff;
	header[5] = CSOD_WIN_CERT_REVISION_2 >> 8;
	header[6] = CSOD_WIN_CERT_TYPE_PKCS_SIGNED;
	header[7] = 0;
	put32(entry, (uint32_t)padded);
	put32(entry + 4, (uint32_t)(cert_len + tail_len));
	word_sum += csod_pe_sum_at(pe->certdir_offset, entry, 8) +
	            csod_pe_sum_at(padded, header, 8) + csod_pe_sum_at(padded + 8, der, der_len) +
	            csod_pe_sum_at(tail_at, tail.p, tail.len);
	put32(sum_le, csod_pe_checksum_of(word_sum, tail_at + tail_len));
	if (tail_at + tail_len > UINT32_MAX)
		csod_fail(err, "the signed file would exceed 4 GB");
	else if (cert_len + tail_len > CSOD_PE_MAX_CERT_TABLE)
		csod_fail(err, "the certificate table would exceed %u bytes",
		          CSOD_PE_MAX_CERT_TABLE);
	else if (csod_pwrite_all(out, header, 8, (off_t)padded, err) == 0 &&
	         csod_pwrite_all(out, der, der_len, (off_t)padded + 8, err) == 0 &&
	         csod_pwrite_all(out, zeros, cert_len - 8 - (uint32_t)der_len,
	                         (off_t)(padded + 8 + der_len), err) == 0 &&
	         csod_pwrite_all(out, tail.p, tail.len, (off_t)tail_at, err) == 0 &&
	         csod_pwrite_all(out, zeros, tail_len - tail.len, (off_t)(tail_at + tail.len),
	                         err) == 0 &&
	         csod_pwrite_all(out, entry, 8, pe->certdir_offset, err) == 0 &&
	         csod_pwrite_all(out, sum_le, 4, pe->checksum_offset, err) == 0)
		rc = 0;
	return rc;
}

/* The input up to its signature (if any), padded to 8 bytes, copied to
 * out: the word sum of what is written, and where the signature goes.
 * opt (may be NULL) is for its progress reports. */
static int copy_unsigned(int in, int out, const csod_pe *pe, csod_spc_hashes *h, uint64_t *padded,
                         uint64_t *word_sum, const csod_sign_options *opt, csod_error *err)
{
	uint64_t end = pe->cert_table ? pe->cert_table : pe->file_size;
	static const unsigned char zeros[8];
	*padded = (end + 7) & ~7ULL;
	if (scan_pe(in, out, pe, end, *padded, h, word_sum, opt, err) < 0)
		return -1;
	return *padded > end ? csod_pwrite_all(out, zeros, *padded - end, (off_t)end, err) : 0;
}

/* The output is the input up to its old signature, padded to 8 bytes, then
 * ours (nesting: the first old entry's signature with ours inside, then
 * the other old entries). The image hash and checksum are computed from
 * the input as it is copied (the output holds the same bytes; the
 * self-check reads the output itself), so signing reads the file once,
 * hashing on one thread while the other reads, copies and sums. */
static int pe_sign(int in, int out, const csod_identity *id, const csod_sign_options *opt,
                   csod_error *err)
{
	csod_pe pe;
	csod_spc_hashes h;
	csod_pe_certs certs = {.table = NULL};
	if (csod_pe_parse(in, &pe, err) < 0 || csod_spc_hashes_for(opt, &h, err) < 0)
		return -1;
	PKCS7 *existing = NULL, *p7 = NULL;
	/* Before the first goto: freed at out whichever way it is reached. */
	unsigned char *der = NULL;
	static const unsigned char no_tail[1];
	cert_tail tail = {no_tail, 0};
	int rc = -1;
	if (opt->append && pe.cert_table) {
		if (csod_pe_certs_read(in, &pe, &certs, err) < 0 ||
		    !(existing = csod_pe_certs_pkcs7(&certs, 0, err)))
			goto out;
		tail.p = certs.table + csod_pe_certs_rest(&certs);
		tail.len = certs.len - csod_pe_certs_rest(&certs);
	}
	uint64_t padded = 0, word_sum = 0;
	if (copy_unsigned(in, out, &pe, &h, &padded, &word_sum, opt, err) < 0)
		goto out;
	csod_spc_data pe_data = {.oid = SPC_PE_IMAGE_DATA};
	pe_data.value_len = csod_spc_pe_image_data(pe_data.value, sizeof pe_data.value);
	if (!(p7 = csod_spc_sign_digests(id, opt, &pe_data, existing, csod_spc_precomputed_hash, &h,
	                                 err)))
		goto out;
	existing = NULL; /* owned by p7 now, if it was used */
	int der_len = i2d_PKCS7(p7, &der);
	rc = der_len <= 0
	         ? csod_fail(err, "cannot encode the signature")
	         : append_signature(out, &pe, padded, word_sum, der, (size_t)der_len, tail, err);
out:
	OPENSSL_free(der);
	PKCS7_free(p7);
	PKCS7_free(existing);
	csod_pe_certs_free(&certs);
	return rc;
}

/* The self-check's reads of the output: each signature's image hash, and
 * the file's checksum sum from the first of those reads. */
typedef struct hash_check {
	int fd;
	const csod_pe *pe;
	int summed;
	uint64_t word_sum;
} hash_check;

static int check_image_hash(void *ctx, const EVP_MD *md, const unsigned char *digest, size_t len,
                            csod_error *err)
{
	hash_check *c = ctx;
	csod_spc_hashes h = {.n = 1, .md = {md}};
	uint64_t sum;
	if (scan_pe(c->fd, -1, c->pe, c->pe->file_size, c->pe->cert_table, &h, &sum, NULL, err) < 0)
		return -1;
	if (!c->summed) {
		c->word_sum = sum;
		c->summed = 1;
	}
	if (h.len[0] != len || memcmp(h.value[0], digest, len) != 0)
		return csod_fail(err, "the %s image hash does not match the signed one",
		                 EVP_MD_get0_name(md));
	return 0;
}

/* The stored checksum against the file's: c->word_sum (entry and checksum
 * as zero) plus the certificate-table entry as the file has it. */
static int check_checksum(hash_check *c, csod_error *err)
{
	const csod_pe *pe = c->pe;
	unsigned char entry[8], le[4];
	/* A signature checked in full (checker_done) ran check_image_hash. */
	if (!c->summed)
		return csod_fail(err, "the PE checksum was not computed");
	if (pread(c->fd, entry, 8, pe->certdir_offset) != 8 ||
	    pread(c->fd, le, 4, pe->checksum_offset) != 4)
		return csod_fail_errno(err, "cannot read the PE headers back");
	uint32_t sum = csod_pe_checksum_of(
	    c->word_sum + csod_pe_sum_at(pe->certdir_offset, entry, 8), pe->file_size);
	uint32_t stored =
	    (uint32_t)le[0] | (uint32_t)le[1] << 8 | (uint32_t)le[2] << 16 | (uint32_t)le[3] << 24;
	return sum == stored ? 0 : csod_fail(err, "the PE checksum is wrong");
}

/* The entries after our first one are the input's, byte for byte (only
 * nesting keeps any), then at most the zeros that align the last. */
static int same_rest(int in, const csod_pe_certs *signed_certs, csod_error *err)
{
	uint32_t at = csod_pe_certs_rest(signed_certs), len = signed_certs->len - at;
	if (len == 0)
		return 0;
	csod_pe pe;
	csod_pe_certs theirs;
	csod_error why;
	if (csod_pe_parse(in, &pe, &why) < 0 || csod_pe_certs_read(in, &pe, &theirs, &why) < 0)
		return csod_fail(err, "the signed file has certificate table entries the input "
		                      "lacks");
	uint32_t from = csod_pe_certs_rest(&theirs), n = theirs.len - from;
	int same = ((n + 7ULL) & ~7ULL) == len &&
	           memcmp(theirs.table + from, signed_certs->table + at, n) == 0;
	for (uint32_t i = n; same && i < len; i++)
		same = signed_certs->table[at + i] == 0;
	csod_pe_certs_free(&theirs);
	return same ? 0
	            : csod_fail(err, "the signed file's further certificate table entries are "
	                             "not the input's");
}

/* Our signatures (wherever they sit) in full, the others for structure
 * (spc.h), then the checksum and the entries copied from the input. */
static int pe_verify(int in, int out, X509_STORE *trust, csod_error *err)
{
	csod_pe pe;
	csod_pe_certs certs;
	if (csod_pe_parse(out, &pe, err) < 0 || csod_pe_certs_read(out, &pe, &certs, err) < 0)
		return -1;
	hash_check ctx = {out, &pe, 0, 0};
	csod_spc_checker checker;
	csod_spc_checker_init(&checker, trust, check_image_hash, &ctx);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < certs.n; i++) {
		/* Windows reads the first; others of another type go through. */
		if (i > 0 && certs.entry[i].type != CSOD_WIN_CERT_TYPE_PKCS_SIGNED)
			continue;
		PKCS7 *p7 = csod_pe_certs_pkcs7(&certs, i, err);
		rc = p7 ? csod_spc_check(&checker, p7, err) : -1;
		PKCS7_free(p7);
	}
	if (rc == 0)
		rc = csod_spc_checker_done(&checker, err);
	if (rc == 0)
		rc = check_checksum(&ctx, err);
	if (rc == 0)
		rc = same_rest(in, &certs, err);
	csod_pe_certs_free(&certs);
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

/* The first entry's PKCS#7, the one Windows reads (osslsigncode's
 * extract-signature gives the same). */
static int pe_extract(int fd, unsigned char **sig, size_t *len, csod_error *err)
{
	csod_pe pe;
	csod_pe_certs certs;
	if (csod_pe_parse(fd, &pe, err) < 0)
		return -1;
	if (!pe.cert_table)
		return csod_fail(err, "the file is not signed (no certificate table)");
	if (csod_pe_certs_read(fd, &pe, &certs, err) < 0)
		return -1;
	const csod_pe_cert *first = &certs.entry[0];
	int rc =
	    first->type != CSOD_WIN_CERT_TYPE_PKCS_SIGNED
	        ? csod_fail(err,
	                    "the first certificate table entry is not a PKCS#7 "
	                    "signature (type %u)",
	                    first->type)
	        : csod_detached_take(certs.table + first->at + 8, first->len - 8, sig, len, err);
	csod_pe_certs_free(&certs);
	return rc;
}

/* As pe_sign without appending, with the signature given. */
static int pe_attach(int in, int out, const unsigned char *sig, size_t len, csod_error *err)
{
	if (csod_detached_check(sig, len, err) < 0)
		return -1;
	csod_pe pe;
	csod_spc_hashes none = {.n = 0};
	static const unsigned char no_tail[1];
	uint64_t padded = 0, word_sum = 0;
	if (csod_pe_parse(in, &pe, err) < 0 ||
	    copy_unsigned(in, out, &pe, &none, &padded, &word_sum, NULL, err) < 0)
		return -1;
	return append_signature(out, &pe, padded, word_sum, sig, len, (cert_tail){no_tail, 0}, err);
}

const csod_signer csod_signer_pe = {
    .name = "pe",
    .service = "authenticode",
    .detect = pe_detect,
    .check = pe_check,
    .output_name = NULL,
    .sign = pe_sign,
    .verify = pe_verify,
    .extract_signature = pe_extract,
    .attach_signature = pe_attach,
};
