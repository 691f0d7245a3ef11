/* Our own check of a JAR signature (used before publishing): every entry's
 * digest in the manifest, each .SF over the manifest, each PKCS#7 block over
 * its .SF, at least one signer chaining to the trusted roots, and every
 * entry signed by such a signer as jarsigner judges it (v1.h). */
#include "v1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "manifest.h"

const EVP_MD *csod_v1_md_for_attr(const char *attr, const char *suffix)
{
	static const char *const names[] = {"SHA1", "SHA-1", "SHA-256", "SHA-384", "SHA-512"};
	const EVP_MD *mds[] = {EVP_sha1(), EVP_sha1(), EVP_sha256(), EVP_sha384(), EVP_sha512()};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t n = strlen(names[i]);
		if (strncasecmp(attr, names[i], n) == 0 && strcasecmp(attr + n, suffix) == 0)
			return mds[i];
	}
	return NULL;
}

int csod_v1_md_strong(const EVP_MD *md)
{
	int t = EVP_MD_type(md);
	return t == NID_sha256 || t == NID_sha384 || t == NID_sha512;
}

/* One bit per digest algorithm a JAR may name. */
static unsigned md_bit(const EVP_MD *md)
{
	switch (EVP_MD_type(md)) {
	case NID_sha1:
		return 1;
	case NID_sha256:
		return 2;
	case NID_sha384:
		return 4;
	case NID_sha512:
		return 8;
	default:
		return 0;
	}
}

#define STRONG_BITS (2u | 4u | 8u)

/* The algorithms of a section's "<ALG><suffix>" attributes. */
static unsigned digest_bits(const csod_mf_section *s, const char *suffix)
{
	unsigned bits = 0;
	for (size_t a = 0; a < s->n_attrs; a++) {
		const EVP_MD *md = csod_v1_md_for_attr(s->attrs[a].name, suffix);
		bits |= md ? md_bit(md) : 0;
	}
	return bits;
}

static int b64_matches(const EVP_MD *md, const unsigned char *data, size_t len, const char *want)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	char b64[2 * EVP_MAX_MD_SIZE];
	if (!EVP_Digest(data, len, d, &dl, md, NULL))
		return 0;
	csod_v1_b64(d, dl, b64);
	return strcmp(b64, want) == 0;
}

int csod_v1_checker_needs(const csod_zip_entry *e)
{
	return !csod_v1_signature_related(e->name) && e->name[e->name_len - 1] != '/';
}

int csod_v1_checker_start(csod_v1_checker *ch, const csod_zip_entry *e, csod_error *err)
{
	csod_mf_section *s = csod_mf_find(&ch->mf, e->name);
	ch->entry = e;
	ch->n = 0;
	for (size_t a = 0; s && a < s->n_attrs && ch->n < CSOD_MAX_DIGESTS; a++)
		if ((ch->md[ch->n] = csod_v1_md_for_attr(s->attrs[a].name, "-Digest")))
			ch->want[ch->n++] = s->attrs[a].value;
	if (ch->n == 0)
		return csod_fail(err, "entry '%.200s' is not signed", e->name);
	return csod_mdset_start(&ch->set, ch->md, ch->n, err);
}

int csod_v1_checker_end(csod_v1_checker *ch, csod_error *err)
{
	unsigned char d[CSOD_MAX_DIGESTS][EVP_MAX_MD_SIZE];
	if (csod_mdset_finish(&ch->set, d, err) < 0)
		return -1;
	for (int k = 0; k < ch->n; k++) {
		char b64[2 * EVP_MAX_MD_SIZE];
		csod_v1_b64(d[k], (size_t)EVP_MD_size(ch->md[k]), b64);
		if (strcmp(b64, ch->want[k]) != 0)
			return csod_fail(err, "entry '%.200s' does not match its manifest digest",
			                 ch->entry->name);
	}
	return 0;
}

/* The .SF covers the manifest: whole (a Manifest digest that matches; *whole
 * gets the algorithms of those that do) or section by section, as the JDK
 * accepts. A trusted signer's section digests must all match; another
 * signer's SHA-1 ones may not: nesting adds our digest to sections that
 * had only SHA-1 ones (v1_sign.c), which changes them, and the JDK ignores
 * SHA-1 digests as it does the signer. A stronger one that no longer
 * matches would fail the whole archive in the JDK, so it fails here. */
static int check_sf(const char *sf_name, csod_manifest *sf, csod_manifest *mf,
                    const unsigned char *mf_bytes, size_t mf_len, int trusted, unsigned *whole,
                    csod_error *err)
{
	*whole = 0;
	for (size_t a = 0; a < sf->main.n_attrs; a++) {
		const EVP_MD *md = csod_v1_md_for_attr(sf->main.attrs[a].name, "-Digest-Manifest");
		if (md && b64_matches(md, mf_bytes, mf_len, sf->main.attrs[a].value))
			*whole |= md_bit(md);
	}
	if (*whole)
		return 0;
	csod_buf one = {0};
	int rc = 0;
	for (size_t i = 0; i < sf->n_sections && rc == 0; i++) {
		csod_mf_section *ss = &sf->sections[i], *ms = csod_mf_find(mf, ss->name);
		if (!ms || !ms->raw) {
			rc = csod_fail(err, "%s names '%.200s', which the manifest lacks", sf_name,
			               ss->name);
			break;
		}
		one.len = 0;
		csod_mf_emit_section(ms, &one);
		for (size_t a = 0; a < ss->n_attrs && rc == 0; a++) {
			const EVP_MD *md = csod_v1_md_for_attr(ss->attrs[a].name, "-Digest");
			if (md && (trusted || csod_v1_md_strong(md)) &&
			    !b64_matches(md, one.p, one.len, ss->attrs[a].value))
				rc = csod_fail(err,
				               "%s: digest of manifest section '%.200s' differs",
				               sf_name, ss->name);
		}
	}
	csod_buf_free(&one);
	return rc;
}

/* The manifest sections a trusted signer's .SF signs, as the JDK decides:
 * those the .SF names (covered by its whole-manifest digest, else by its
 * own section digests, checked in check_sf) whose manifest digest of the
 * entry is in an algorithm the .SF uses, or strong enough for any signer.
 * A SHA-1-only section under a SHA-256 signer is unsigned to JDK 17. */
static void mark_signed(csod_v1_checker *ch, const csod_manifest *sf, unsigned whole)
{
	for (size_t i = 0; i < sf->n_sections; i++) {
		const csod_mf_section *ss = &sf->sections[i];
		csod_mf_section *ms = csod_mf_find(&ch->mf, ss->name);
		unsigned algs = whole ? whole : digest_bits(ss, "-Digest");
		if (ms && algs && (digest_bits(ms, "-Digest") & (algs | STRONG_BITS)))
			ch->signed_section[ms - ch->mf.sections] = 1;
	}
}

static long find_block(const csod_zip *z, const char *sf_name)
{
	static const char *const exts[] = {".RSA", ".EC", ".DSA"};
	char name[600];
	size_t base = strlen(sf_name) - 3;
	for (size_t k = 0; k < 3; k++) {
		snprintf(name, sizeof name, "%.*s%s", (int)base, sf_name, exts[k]);
		for (size_t i = 0; i < z->n_entries; i++)
			if (strcasecmp(z->entries[i].name, name) == 0)
				return (long)i;
	}
	return -1;
}

/* 1 if the PKCS#7 block signs sf and its signer chains to trust, 0 if it
 * signs sf but does not chain, -1 if the signature itself is bad. */
static int check_block(const unsigned char *der, size_t der_len, const unsigned char *sf,
                       size_t sf_len, X509_STORE *trust, const char *what, csod_error *err)
{
	const unsigned char *p = der;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)der_len);
	BIO *in = BIO_new_mem_buf(sf, (int)sf_len);
	int rc = -1;
	if (!p7 || !in || !PKCS7_type_is_signed(p7)) {
		csod_fail_ssl(err, "%s is not a PKCS#7 signature", what);
		goto out;
	}
	if (PKCS7_verify(p7, NULL, NULL, in, NULL, PKCS7_BINARY | PKCS7_NOVERIFY) != 1) {
		csod_fail_ssl(err, "%s: the PKCS#7 signature does not verify", what);
		goto out;
	}
	STACK_OF(X509) *signers = PKCS7_get0_signers(p7, NULL, 0);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	rc = 0;
	if (signers && ctx && sk_X509_num(signers) == 1 &&
	    X509_STORE_CTX_init(ctx, trust, sk_X509_value(signers, 0), p7->d.sign->cert) == 1) {
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
		if (X509_verify_cert(ctx) == 1)
			rc = 1;
		else
			csod_fail(
			    err, "%s: signer certificate does not chain to a trusted root: %s",
			    what, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	}
	X509_STORE_CTX_free(ctx);
	sk_X509_free(signers);
out:
	PKCS7_free(p7);
	BIO_free(in);
	return rc;
}

static int check_signer(csod_v1_checker *ch, const csod_zip *z, size_t sf_index, X509_STORE *trust,
                        int want_android, csod_error *err)
{
	const char *sf_name = z->entries[sf_index].name;
	long bi = find_block(z, sf_name);
	if (bi < 0)
		return csod_fail(err, "%s has no signature block", sf_name);
	unsigned char *sf = NULL, *block = NULL;
	size_t sf_len = 0, block_len = 0;
	unsigned whole = 0;
	csod_manifest sfm;
	int parsed = 0;
	int rc = csod_zip_read_small(z, &z->entries[sf_index], CSOD_MF_MAX_SIZE, &sf, &sf_len, err);
	if (rc == 0)
		rc = csod_zip_read_small(z, &z->entries[bi], 1024 * 1024, &block, &block_len, err);
	int trusted =
	    rc == 0 ? check_block(block, block_len, sf, sf_len, trust, z->entries[bi].name, err)
	            : -1;
	if (trusted >= 0 && (rc = csod_mf_parse(&sfm, sf, sf_len, sf_name, err)) == 0) {
		parsed = 1;
		rc = check_sf(sf_name, &sfm, &ch->mf, ch->mf_bytes, ch->mf_len, trusted, &whole,
		              err);
		const char *apk = csod_mf_get(&sfm.main, "X-Android-APK-Signed");
		if (rc == 0 && want_android && !apk)
			rc = csod_fail(err, "%s lacks X-Android-APK-Signed", sf_name);
	}
	if (rc == 0 && trusted != 0)
		rc = trusted;
	if (rc > 0)
		mark_signed(ch, &sfm, whole);
	if (parsed)
		csod_mf_free(&sfm);
	free(sf);
	free(block);
	return rc;
}

/* Every entry that needs a signature has one from a trusted signer. */
static int all_signed(const csod_v1_checker *ch, const csod_zip *z, csod_error *err)
{
	for (size_t i = 0; i < z->n_entries; i++) {
		const csod_zip_entry *e = &z->entries[i];
		if (!csod_v1_checker_needs(e))
			continue;
		csod_mf_section *s = csod_mf_find((csod_manifest *)&ch->mf, e->name);
		if (!s || !ch->signed_section[s - ch->mf.sections])
			return csod_fail(err,
			                 "entry '%.200s' is not signed by a trusted signer: its "
			                 "manifest section has no digest in the signer's algorithm "
			                 "(or SHA-256 or stronger) that the signer's .SF covers",
			                 e->name);
	}
	return 0;
}

int csod_v1_checker_open(csod_v1_checker *ch, const csod_zip *z, csod_error *err)
{
	memset(ch, 0, sizeof *ch);
	long mi = csod_zip_find(z, "META-INF/MANIFEST.MF");
	if (mi < 0)
		return csod_fail(err, "no META-INF/MANIFEST.MF");
	if (csod_zip_read_small(z, &z->entries[mi], CSOD_MF_MAX_SIZE, &ch->mf_bytes, &ch->mf_len,
	                        err) < 0)
		return -1;
	if (csod_mf_parse(&ch->mf, ch->mf_bytes, ch->mf_len, "META-INF/MANIFEST.MF", err) < 0) {
		free(ch->mf_bytes);
		ch->mf_bytes = NULL;
		return -1;
	}
	ch->mf_ready = 1;
	return 0;
}

int csod_v1_checker_signers(csod_v1_checker *ch, const csod_zip *z, X509_STORE *trust,
                            int want_android, csod_error *err)
{
	int rc = 0, trusted = 0, signers = 0;
	csod_error chain_err;
	csod_error_clear(&chain_err);
	free(ch->signed_section);
	ch->signed_section = calloc(ch->mf.n_sections ? ch->mf.n_sections : 1, 1);
	if (!ch->signed_section)
		return csod_fail(err, "out of memory");
	for (size_t i = 0; i < z->n_entries && rc == 0; i++) {
		const char *n = z->entries[i].name, *dot = strrchr(n, '.');
		if (!csod_v1_signature_related(n) || !dot || strcasecmp(dot, ".SF") != 0)
			continue;
		signers++;
		int r = check_signer(ch, z, i, trust, want_android, &chain_err);
		if (r < 0)
			rc = csod_fail(err, "%s", chain_err.msg);
		trusted += r > 0;
	}
	if (rc == 0 && signers == 0)
		rc = csod_fail(err, "no JAR signature (META-INF/*.SF)");
	else if (rc == 0 && trusted == 0)
		rc = csod_fail(err, "%s", chain_err.msg[0] ? chain_err.msg : "no trusted signer");
	return rc == 0 ? all_signed(ch, z, err) : rc;
}

void csod_v1_checker_close(csod_v1_checker *ch)
{
	if (ch->mf_ready)
		csod_mf_free(&ch->mf);
	free(ch->mf_bytes);
	free(ch->signed_section);
	csod_mdset_free(&ch->set);
	memset(ch, 0, sizeof *ch);
}

int csod_v1_verify(const csod_zip *z, X509_STORE *trust, int want_android, csod_error *err)
{
	csod_v1_checker ch;
	int rc = csod_v1_checker_open(&ch, z, err);
	for (size_t i = 0; i < z->n_entries && rc == 0; i++) {
		const csod_zip_entry *e = &z->entries[i];
		if (!csod_v1_checker_needs(e))
			continue;
		rc = csod_v1_checker_start(&ch, e, err);
		if (rc == 0)
			rc = csod_zip_read_entry(z, e, csod_mdset_feed, &ch.set, err);
		if (rc == 0)
			rc = csod_v1_checker_end(&ch, err);
	}
	if (rc == 0)
		rc = csod_v1_checker_signers(&ch, z, trust, want_android, err);
	csod_v1_checker_close(&ch);
	return rc;
}
