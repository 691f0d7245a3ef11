/* Authenticode for Windows Installer files (MSI, MSP, MSM: OLE compound
 * files). The signature is a PKCS#7 SignedData in the root storage's
 * \x05DigitalSignature stream over the hash of all other streams
 * (msi_hash.c); the signed file is a new compound file holding every
 * original stream unchanged plus that one (cfb_write.c).
 *
 * MsiDigitalSignatureEx (a pre-hash of the entries' metadata, which Windows
 * prepends to the content hash) is never added. Re-signing drops it with
 * the old signature; appending (nesting) to a signature that has it keeps
 * it and prepends its pre-hash to our hashes too, as osslsigncode does. */
#include <stdlib.h>
#include <string.h>

#include "../signer.h"
#include "cfb.h"
#include "msi_hash.h"
#include "spc.h"

#define MAX_SIGNATURE (16u << 20)

/* SpcSipInfo for MSI: version 1, the MSI SIP's GUID
 * {000C10F1-0000-0000-C000-000000000046}, then five zero integers. */
static const unsigned char msi_sip_info[] = {
    0x30, 0x24, 0x02, 0x01, 0x01, 0x04, 0x10, 0xf1, 0x10, 0x0c, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46, 0x02, 0x01, 0x00,
    0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00};

static int msi_detect(const unsigned char *head, size_t len, off_t size)
{
	(void)size;
	return len >= sizeof csod_cfb_magic &&
	       memcmp(head, csod_cfb_magic, sizeof csod_cfb_magic) == 0;
}

typedef struct stream_buf {
	unsigned char *p;
	size_t len, cap;
} stream_buf;

static int append_chunk(void *ctx, const unsigned char *p, size_t n, csod_error *err)
{
	stream_buf *b = ctx;
	if (n > b->cap - b->len)
		return csod_fail(err, "a stream is longer than its size");
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/* A small stream (a signature) read whole; NULL when it is absent. */
static int read_small_stream(const csod_cfb *c, uint32_t id, const char *what, stream_buf *b,
                             csod_error *err)
{
	memset(b, 0, sizeof *b);
	if (id == CFB_NOSTREAM)
		return 0;
	const csod_cfb_entry *e = &c->dir[id];
	if (e->type != CFB_TYPE_STREAM || e->size == 0 || e->size > MAX_SIGNATURE)
		return csod_fail(err, "the %s stream has an implausible size (%u)", what, e->size);
	b->cap = e->size;
	if (!(b->p = malloc(b->cap)))
		return csod_fail(err, "out of memory");
	if (csod_cfb_read_stream(c, id, append_chunk, b, err) < 0) {
		free(b->p);
		b->p = NULL;
		return -1;
	}
	return 0;
}

static PKCS7 *read_signature(const csod_cfb *c, uint32_t id, csod_error *err)
{
	stream_buf b;
	if (id == CFB_NOSTREAM)
		return csod_fail(err, "the file is not signed (no DigitalSignature stream)"), NULL;
	if (read_small_stream(c, id, "DigitalSignature", &b, err) < 0)
		return NULL;
	const unsigned char *p = b.p;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)b.len);
	free(b.p);
	if (!p7)
		csod_fail(err, "the existing signature does not parse");
	return p7;
}

typedef struct hash_ctx {
	const csod_cfb *cfb;
	int with_prehash; /* the file carries MsiDigitalSignatureEx */
	size_t prehash_len;
} hash_ctx;

static int hash_msi(void *ctx, const EVP_MD *md, unsigned char *digest, unsigned *len,
                    csod_error *err)
{
	hash_ctx *h = ctx;
	unsigned char pre[EVP_MAX_MD_SIZE];
	unsigned pre_len = 0;
	if (h->with_prehash) {
		if ((size_t)EVP_MD_get_size(md) != h->prehash_len)
			return csod_fail(
			    err,
			    "the MsiDigitalSignatureEx pre-hash has %zu bytes, %s gives %d: "
			    "use its digest, or sign without appending",
			    h->prehash_len, EVP_MD_get0_name(md), EVP_MD_get_size(md));
		if (csod_msi_prehash(h->cfb, md, pre, &pre_len, err) < 0)
			return -1;
	}
	return csod_msi_hash(h->cfb, md, h->with_prehash ? pre : NULL, pre_len, digest, len, err);
}

static int msi_sign(int in, int out, const csod_identity *id, const csod_sign_options *opt,
                    csod_error *err)
{
	csod_cfb c;
	if (csod_cfb_open(&c, in, err) < 0)
		return -1;
	uint32_t ds = csod_cfb_find(&c, 0, csod_msi_signature_name, sizeof csod_msi_signature_name);
	uint32_t dse =
	    csod_cfb_find(&c, 0, csod_msi_signature_ex_name, sizeof csod_msi_signature_ex_name);
	PKCS7 *existing = NULL;
	stream_buf ex = {0};
	unsigned char *der = NULL;
	int rc = -1;
	int keep_ex = opt->append && ds != CFB_NOSTREAM && dse != CFB_NOSTREAM;
	if (opt->append && ds != CFB_NOSTREAM && !(existing = read_signature(&c, ds, err)))
		goto out;
	if (keep_ex && read_small_stream(&c, dse, "MsiDigitalSignatureEx", &ex, err) < 0)
		goto out;
	hash_ctx h = {&c, keep_ex, ex.len};
	int der_len = csod_spc_sign_sip_der(id, opt, msi_sip_info, sizeof msi_sip_info, existing,
	                                    hash_msi, &h, &der, err);
	if (der_len < 0)
		goto out;
	existing = NULL; /* freed with the signature, if it was used */
	uint32_t drop[2] = {ds, keep_ex ? CFB_NOSTREAM : dse};
	csod_cfb_new_stream signature = {csod_msi_signature_name, sizeof csod_msi_signature_name,
	                                 der, (size_t)der_len};
	rc = csod_cfb_write(out, &c, drop, 2, &signature, 1, err);
out:
	OPENSSL_free(der);
	PKCS7_free(existing);
	free(ex.p);
	csod_cfb_close(&c);
	return rc;
}

typedef struct verify_ctx {
	hash_ctx signed_file, original;
	const unsigned char *prehash; /* MsiDigitalSignatureEx's content */
} verify_ctx;

/* The hash recomputed from the signed file must be the signed one, and
 * the same as the input's: the streams are exactly those of the input. */
static int check_hash(void *ctx, const EVP_MD *md, const unsigned char *digest, size_t len,
                      csod_error *err)
{
	verify_ctx *v = ctx;
	unsigned char mine[EVP_MAX_MD_SIZE], theirs[EVP_MAX_MD_SIZE], pre[EVP_MAX_MD_SIZE];
	unsigned mine_len = 0, theirs_len = 0, pre_len = 0;
	if (hash_msi(&v->signed_file, md, mine, &mine_len, err) < 0 ||
	    hash_msi(&v->original, md, theirs, &theirs_len, err) < 0)
		return -1;
	if (mine_len != len || memcmp(mine, digest, len) != 0)
		return csod_fail(err, "the %s MSI hash does not match the signed one",
		                 EVP_MD_get0_name(md));
	if (theirs_len != mine_len || memcmp(theirs, mine, mine_len) != 0)
		return csod_fail(err, "the signed MSI's streams differ from the input's");
	if (v->prehash && (csod_msi_prehash(v->signed_file.cfb, md, pre, &pre_len, err) < 0 ||
	                   memcmp(pre, v->prehash, pre_len) != 0))
		return csod_fail(err, "MsiDigitalSignatureEx does not match the file's metadata");
	return 0;
}

static int msi_verify(int in, int out, X509_STORE *trust, csod_error *err)
{
	csod_cfb signed_file, original;
	if (csod_cfb_open(&signed_file, out, err) < 0)
		return -1;
	if (csod_cfb_open(&original, in, err) < 0) {
		csod_cfb_close(&signed_file);
		return -1;
	}
	uint32_t ds =
	    csod_cfb_find(&signed_file, 0, csod_msi_signature_name, sizeof csod_msi_signature_name);
	uint32_t dse = csod_cfb_find(&signed_file, 0, csod_msi_signature_ex_name,
	                             sizeof csod_msi_signature_ex_name);
	stream_buf ex = {0};
	int rc = -1;
	PKCS7 *p7 = read_signature(&signed_file, ds, err);
	if (p7 && read_small_stream(&signed_file, dse, "MsiDigitalSignatureEx", &ex, err) == 0) {
		int with = dse != CFB_NOSTREAM;
		verify_ctx v = {{&signed_file, with, ex.len}, {&original, with, ex.len}, ex.p};
		rc = csod_spc_verify(p7, trust, check_hash, &v, err);
	}
	PKCS7_free(p7);
	free(ex.p);
	csod_cfb_close(&original);
	csod_cfb_close(&signed_file);
	return rc;
}

static int msi_check(int fd, const char *name, csod_error *err)
{
	csod_cfb c;
	csod_error why;
	if (csod_cfb_open(&c, fd, &why) < 0)
		return csod_fail(err, "%s: %s", name, why.msg);
	csod_cfb_close(&c);
	return 0;
}

const csod_signer csod_signer_msi = {
    .name = "msi",
    .service = "authenticode",
    .detect = msi_detect,
    .check = msi_check,
    .output_name = NULL,
    .sign = msi_sign,
    .verify = msi_verify,
};
