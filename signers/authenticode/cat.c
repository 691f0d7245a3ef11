/* Authenticode for Windows security catalogs (cat_format.h). A catalog's
 * signature is the file itself: signing builds a new SignedData around the
 * input's trust list (CTL), byte for byte, with our signer; re-signing
 * drops the old signer; --nest keeps it and adds ours as a nested
 * signature. A catalog is read whole, at most CSOD_CAT_MAX bytes.
 *
 * Detached, a catalog's signature is the signed catalog itself (what
 * osslsigncode extract-signature writes for one): attaching it to an
 * unsigned catalog checks that it signs that catalog's CTL byte for byte
 * and then writes it as the output. */
#include <stdlib.h>
#include <string.h>

#include "../common/fileio.h"
#include "../signer.h"
#include "cat_format.h"
#include "spc.h"

static int load(int fd, uint64_t max, csod_cat *cat, csod_error *err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	if (csod_read_whole(fd, max, "catalogs", &buf, &len, err) < 0)
		return -1;
	int rc = csod_cat_parse_buffer(buf, len, cat, err); /* p7 keeps its own copy */
	free(buf);
	return rc;
}

/* Any DER SEQUENCE the other Authenticode engines did not take is taken as
 * a catalog attempt, so that check() can say what is wrong with it (a
 * signature file that signs something else, a truncated catalog). Telling
 * a catalog from other files by content alone (registry.c) uses the
 * stricter csod_cat_sniff(). */
static int cat_detect(const unsigned char *head, size_t len, off_t size)
{
	(void)size;
	return len >= 2 && head[0] == 0x30;
}

static int cat_check(int fd, const char *name, csod_error *err)
{
	csod_cat cat;
	csod_error why;
	if (load(fd, CSOD_CAT_MAX, &cat, &why) < 0)
		return csod_fail(err, "%s: %s", name, why.msg);
	csod_cat_free(&cat);
	return 0;
}

/* csod_spc_sign_each's signer: the catalog's CTL as the signed content,
 * with the signing time signtool and osslsigncode give catalogs. */
typedef struct ctl_signing {
	const csod_identity *id;
	const csod_sign_options *opt;
	const csod_cat *cat;
} ctl_signing;

static PKCS7 *sign_ctl(void *ctx, const EVP_MD *md, csod_error *err)
{
	const ctl_signing *s = ctx;
	return csod_spc_sign_content(s->id, s->opt, SPC_CTL, s->cat->ctl, s->cat->ctl_len, md, 1,
	                             err);
}

static int write_p7(int out, PKCS7 *p7, csod_error *err)
{
	unsigned char *der = NULL;
	int len = i2d_PKCS7(p7, &der);
	int rc = len > 0 ? csod_pwrite_all(out, der, (size_t)len, 0, err)
	                 : csod_fail_ssl(err, "cannot encode the signed catalog");
	OPENSSL_free(der);
	return rc;
}

/* Nesting goes into the one signer of a signed catalog (Authenticode's
 * shape); a catalog of several signers has no first one Windows reads. */
static int nest_target_ok(const csod_cat *cat, const csod_sign_options *opt, csod_error *err)
{
	if (opt->append && cat->n_signers > 1)
		return csod_fail(err,
		                 "the catalog has %d signers; a nested signature goes into one",
		                 cat->n_signers);
	return 0;
}

/* The daemon asks at intake, so that such a request fails before its approval. */
static int cat_check_options(int fd, const char *name, const csod_sign_options *opt,
                             csod_error *err)
{
	(void)name; /* the caller names the file in the reason */
	if (!opt->append)
		return 0;
	csod_cat cat;
	if (load(fd, CSOD_CAT_MAX, &cat, err) < 0)
		return -1;
	int rc = nest_target_ok(&cat, opt, err);
	csod_cat_free(&cat);
	return rc;
}

static int cat_sign(int in, int out, const csod_identity *id, const csod_sign_options *opt,
                    csod_error *err)
{
	uint64_t max = CSOD_CAT_MAX;
	if (opt->max_size > 0 && (uint64_t)opt->max_size < max)
		max = (uint64_t)opt->max_size;
	csod_cat cat;
	if (load(in, max, &cat, err) < 0)
		return -1;
	if (nest_target_ok(&cat, opt, err) < 0) {
		csod_cat_free(&cat);
		return -1;
	}
	/* --nest on an unsigned catalog has nothing to nest in: a plain signing. */
	PKCS7 *existing = opt->append && cat.n_signers > 0 ? cat.p7 : NULL;
	int rc = -1;
	ctl_signing s = {id, opt, &cat};
	PKCS7 *p7 = csod_spc_sign_each(opt, existing, sign_ctl, &s, err);
	if (p7)
		rc = write_p7(out, p7, err);
	if (p7 != cat.p7)
		PKCS7_free(p7);
	csod_cat_free(&cat);
	return rc;
}

/* Every signature of ours in the output signs exactly the input's CTL. */
static int same_ctl(void *ctx, const unsigned char *content, size_t len, csod_error *err)
{
	const csod_cat *in = ctx;
	if (len != in->ctl_len || memcmp(content, in->ctl, len) != 0)
		return csod_fail(err, "a signature signs another trust list than the catalog's");
	return 0;
}

/* A signature over a file hash (SpcIndirectDataContent) has no place in a
 * catalog. */
static int no_file_hash(void *ctx, const EVP_MD *md, const unsigned char *digest, size_t len,
                        csod_error *err)
{
	(void)ctx, (void)md, (void)digest, (void)len;
	return csod_fail(err, "a signature in the catalog signs a file hash, not its trust list");
}

static int cat_verify(int in, int out, X509_STORE *trust, csod_error *err)
{
	csod_cat a, b;
	if (load(in, CSOD_CAT_MAX, &a, err) < 0)
		return -1;
	if (load(out, CSOD_CAT_MAX, &b, err) < 0) {
		csod_cat_free(&a);
		return -1;
	}
	int rc = -1;
	csod_spc_checker c;
	csod_spc_checker_init(&c, trust, no_file_hash, &a);
	c.check_content = same_ctl;
	if (b.ctl_len != a.ctl_len || memcmp(b.ctl, a.ctl, a.ctl_len) != 0)
		csod_fail(err, "the signed catalog's trust list differs from the input's");
	else if (b.n_signers == 0)
		csod_fail(err, "the signed catalog has no signer");
	else if (csod_spc_check(&c, b.p7, err) == 0)
		rc = csod_spc_checker_done(&c, err);
	csod_cat_free(&a);
	csod_cat_free(&b);
	return rc;
}

/* The whole signed catalog, as it is in the file. */
static int cat_extract(int fd, unsigned char **sig, size_t *len, csod_error *err)
{
	unsigned char *buf = NULL;
	size_t n = 0;
	csod_cat cat;
	if (csod_read_whole(fd, CSOD_CAT_MAX, "catalogs", &buf, &n, err) < 0)
		return -1;
	if (csod_cat_parse_buffer(buf, n, &cat, err) < 0) {
		free(buf);
		return -1;
	}
	int signers = cat.n_signers;
	csod_cat_free(&cat);
	if (signers == 0) {
		free(buf);
		return csod_fail(err, "the catalog is not signed");
	}
	*sig = buf;
	*len = n;
	return 0;
}

/* The signature must be a signed catalog over exactly the input's CTL:
 * the same members with the same hashes, byte for byte. */
static int cat_attach(int in, int out, const unsigned char *sig, size_t len, csod_error *err)
{
	csod_cat s, c;
	csod_error why;
	if (csod_cat_parse_buffer(sig, len, &s, &why) < 0)
		return csod_fail(err, "not a catalog signature: %s", why.msg);
	int rc = -1;
	if (s.n_signers == 0)
		csod_fail(err, "the signature file is an unsigned catalog");
	else if (load(in, CSOD_CAT_MAX, &c, err) == 0) {
		if (c.ctl_len != s.ctl_len || memcmp(c.ctl, s.ctl, s.ctl_len) != 0)
			csod_fail(err,
			          "it signs another catalog (its trust list, %d members, differs "
			          "from this catalog's, %d members)",
			          s.n_members, c.n_members);
		else
			rc = csod_pwrite_all(out, sig, len, 0, err);
		csod_cat_free(&c);
	}
	csod_cat_free(&s);
	return rc;
}

const csod_signer csod_signer_cat = {
    .name = "cat",
    .service = "authenticode",
    .detect = cat_detect,
    .check = cat_check,
    .check_options = cat_check_options,
    .output_name = NULL,
    .sign = cat_sign,
    .verify = cat_verify,
    .extract_signature = cat_extract,
    .attach_signature = cat_attach,
};
