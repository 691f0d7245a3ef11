/* Authenticode for Windows Installer files (MSI, MSP, MSM: OLE compound
 * files). The signature is a PKCS#7 SignedData in the root storage's
 * \x05DigitalSignature stream over the hash of all other streams
 * (msi_hash.c); the signed file is a new compound file holding every
 * original stream unchanged plus that one (cfb_write.c).
 *
 * MsiDigitalSignatureEx holds a pre-hash of the entries' metadata (names,
 * sizes, times), which the content hash then starts with, so that Windows
 * also notices an entry renamed or re-dated. It is added when asked
 * (msi_dse), with the signature's digest; re-signing replaces it or drops
 * it with the old signature. Appending (nesting) keeps the one the existing
 * signature covers, after checking it still matches the file, and never
 * adds one that signature does not cover: that would break it. */
#include <stdlib.h>
#include <string.h>

#include "../signer.h"
#include "cfb.h"
#include "detached.h"
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

/* The digest a pre-hash of len bytes was made with: each digest we know
 * has its own length. */
static const EVP_MD *md_of_length(size_t len)
{
	static const char *const names[] = {"md5", "sha1", "sha256", "sha384", "sha512"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const EVP_MD *md = csod_digest_by_name(names[i]);
		if (md && (size_t)EVP_MD_get_size(md) == len)
			return md;
	}
	return NULL;
}

/* The MsiDigitalSignatureEx an existing signature covers must still be the
 * file's: otherwise that signature is broken and ours would sit beside a
 * signature Windows rejects. */
static int check_kept_prehash(const csod_cfb *c, const stream_buf *ex, csod_error *err)
{
	const EVP_MD *md = md_of_length(ex->len);
	unsigned char pre[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	if (!md)
		return csod_fail(err,
		                 "the MsiDigitalSignatureEx stream holds %zu bytes, the length of "
		                 "no digest",
		                 ex->len);
	if (csod_msi_prehash(c, md, pre, &len, err) < 0)
		return -1;
	if (len != ex->len || memcmp(pre, ex->p, len) != 0)
		return csod_fail(err, "the MsiDigitalSignatureEx stream does not match the file's "
		                      "entries: the existing signature no longer holds");
	return 0;
}

/* What a signing does with the signature streams, from the file and the
 * options; refuses what cannot be done as asked. */
typedef struct msi_plan {
	uint32_t ds, dse; /* the streams the file has, or CFB_NOSTREAM */
	int nesting;      /* ours nests in the existing signature */
	int keep_ex;      /* the existing MsiDigitalSignatureEx stays */
	int add_ex;       /* a new one is written */
	const EVP_MD *ex_md;
} msi_plan;

static int plan_signing(const csod_cfb *c, const csod_sign_options *opt, msi_plan *p,
                        csod_error *err)
{
	p->ds = csod_cfb_find(c, 0, csod_msi_signature_name, sizeof csod_msi_signature_name);
	p->dse = csod_cfb_find(c, 0, csod_msi_signature_ex_name, sizeof csod_msi_signature_ex_name);
	p->nesting = opt->append && p->ds != CFB_NOSTREAM;
	p->keep_ex = p->nesting && p->dse != CFB_NOSTREAM;
	p->add_ex = !p->nesting && opt->msi_dse;
	p->ex_md = NULL;
	if (p->nesting && opt->msi_dse && !p->keep_ex)
		return csod_fail(err,
		                 "the existing signature was made without MsiDigitalSignatureEx "
		                 "and adding one would break it: re-sign (without nesting) to "
		                 "add it");
	if (!p->add_ex)
		return 0;
	/* One pre-hash, so one digest for every signature that covers it. */
	const char *name = opt->n_digests ? opt->digests[0] : "sha256";
	for (int i = 1; i < opt->n_digests; i++)
		if (strcmp(opt->digests[i], name) != 0)
			return csod_fail(err,
			                 "MsiDigitalSignatureEx holds one pre-hash, made with one "
			                 "digest: sign with %s or with %s, not both",
			                 name, opt->digests[i]);
	if (!(p->ex_md = csod_digest_by_name(name)))
		return csod_fail(err, "unknown digest '%s'", name);
	return 0;
}

static int msi_sign(int in, int out, const csod_identity *id, const csod_sign_options *opt,
                    csod_error *err)
{
	csod_cfb c;
	if (csod_cfb_open(&c, in, err) < 0)
		return -1;
	PKCS7 *existing = NULL;
	stream_buf ex = {0};
	unsigned char *der = NULL, pre[EVP_MAX_MD_SIZE];
	unsigned pre_len = 0;
	int rc = -1;
	msi_plan p;
	if (plan_signing(&c, opt, &p, err) < 0)
		goto out;
	if (p.nesting && !(existing = read_signature(&c, p.ds, err)))
		goto out;
	if (p.keep_ex && (read_small_stream(&c, p.dse, "MsiDigitalSignatureEx", &ex, err) < 0 ||
	                  check_kept_prehash(&c, &ex, err) < 0))
		goto out;
	if (p.add_ex && csod_msi_prehash(&c, p.ex_md, pre, &pre_len, err) < 0)
		goto out;
	hash_ctx h = {&c, p.keep_ex || p.add_ex, p.keep_ex ? ex.len : pre_len};
	int der_len = csod_spc_sign_sip_der(id, opt, msi_sip_info, sizeof msi_sip_info, existing,
	                                    hash_msi, &h, &der, err);
	if (der_len < 0)
		goto out;
	existing = NULL; /* freed with the signature, if it was used */
	uint32_t drop[2] = {p.ds, p.keep_ex ? CFB_NOSTREAM : p.dse};
	csod_cfb_new_stream add[2] = {
	    {csod_msi_signature_name, sizeof csod_msi_signature_name, der, (size_t)der_len, 0, -1},
	    {csod_msi_signature_ex_name, sizeof csod_msi_signature_ex_name, pre, pre_len, 0, -1}};
	rc = csod_cfb_write(out, &c, drop, 2, add, p.add_ex ? 2 : 1, err);
out:
	OPENSSL_free(der);
	PKCS7_free(existing);
	free(ex.p);
	csod_cfb_close(&c);
	return rc;
}

/* At intake: what the options ask of the signature streams can be done. */
static int msi_check_options(int fd, const char *name, const csod_sign_options *opt,
                             csod_error *err)
{
	(void)name;
	csod_cfb c;
	msi_plan p;
	if (csod_cfb_open(&c, fd, err) < 0)
		return -1;
	int rc = plan_signing(&c, opt, &p, err);
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

/* The \x05DigitalSignature stream, as osslsigncode's extract-signature
 * gives it. MsiDigitalSignatureEx is not carried: attaching makes it anew
 * when the signature covers it (made_over_prehash). */
static int msi_extract(int fd, unsigned char **sig, size_t *len, csod_error *err)
{
	csod_cfb c;
	if (csod_cfb_open(&c, fd, err) < 0)
		return -1;
	uint32_t ds = csod_cfb_find(&c, 0, csod_msi_signature_name, sizeof csod_msi_signature_name);
	stream_buf b = {0};
	int rc = ds == CFB_NOSTREAM
	             ? csod_fail(err, "the file is not signed (no DigitalSignature stream)")
	         : read_small_stream(&c, ds, "DigitalSignature", &b, err) < 0
	             ? -1
	             : csod_detached_take(b.p, b.len, sig, len, err);
	free(b.p);
	csod_cfb_close(&c);
	return rc;
}

/* Whether the signature in sig was made over the pre-hash (the signed
 * file had MsiDigitalSignatureEx): 1 when the hash it claims is the
 * file's with the pre-hash (pre, *pre_len set), else 0. The pre-hash is
 * the file's metadata, the same in a byte-identical rebuild, so it is
 * made anew rather than carried beside the signature, as osslsigncode's
 * attach-signature -add-msi-dse does. */
static int made_over_prehash(const csod_cfb *c, const unsigned char *sig, size_t len,
                             unsigned char *pre, unsigned *pre_len, csod_error *err)
{
	const unsigned char *p = sig;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
	const EVP_MD *md;
	unsigned char claimed[EVP_MAX_MD_SIZE], mine[EVP_MAX_MD_SIZE];
	size_t claimed_len = 0;
	unsigned mine_len = 0;
	int with = 0;
	/* A signature that does not parse is for the self-check to refuse. */
	if (p7 && csod_spc_claimed_hash(p7, &md, claimed, &claimed_len, err) == 0 &&
	    csod_msi_prehash(c, md, pre, pre_len, err) == 0 &&
	    csod_msi_hash(c, md, pre, *pre_len, mine, &mine_len, err) == 0)
		with = mine_len == claimed_len && memcmp(mine, claimed, mine_len) == 0;
	PKCS7_free(p7);
	return with;
}

/* As msi_sign without appending, with the signature given: the input's
 * streams but its signatures, then this one (and MsiDigitalSignatureEx
 * when the signature covers it). */
static int msi_attach(int in, int out, const unsigned char *sig, size_t len, csod_error *err)
{
	if (csod_detached_check(sig, len, err) < 0)
		return -1;
	csod_cfb c;
	if (len > MAX_SIGNATURE)
		return csod_fail(err, "the signature exceeds %u bytes", MAX_SIGNATURE);
	if (csod_cfb_open(&c, in, err) < 0)
		return -1;
	uint32_t drop[2] = {
	    csod_cfb_find(&c, 0, csod_msi_signature_name, sizeof csod_msi_signature_name),
	    csod_cfb_find(&c, 0, csod_msi_signature_ex_name, sizeof csod_msi_signature_ex_name)};
	unsigned char pre[EVP_MAX_MD_SIZE];
	unsigned pre_len = 0;
	csod_error why;
	int with_ex = made_over_prehash(&c, sig, len, pre, &pre_len, &why);
	csod_cfb_new_stream add[2] = {
	    {csod_msi_signature_name, sizeof csod_msi_signature_name, sig, len, 0, -1},
	    {csod_msi_signature_ex_name, sizeof csod_msi_signature_ex_name, pre, pre_len, 0, -1}};
	int rc = csod_cfb_write(out, &c, drop, 2, add, with_ex ? 2 : 1, err);
	csod_cfb_close(&c);
	return rc;
}

const csod_signer csod_signer_msi = {
    .name = "msi",
    .service = "authenticode",
    .detect = msi_detect,
    .check = msi_check,
    .check_options = msi_check_options,
    .output_name = NULL,
    .sign = msi_sign,
    .verify = msi_verify,
    .extract_signature = msi_extract,
    .attach_signature = msi_attach,
};
