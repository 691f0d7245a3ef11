/* Building a JAR signature: see v1.h. */
#include "v1.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/pkcs7.h>

#include "../common/timestamp.h"
#include "manifest.h"

#define CREATED_BY "csod"

const char *csod_v1_md_attr_name(const EVP_MD *md)
{
	switch (EVP_MD_type(md)) {
	case NID_sha1:
		return "SHA1";
	case NID_sha256:
		return "SHA-256";
	case NID_sha384:
		return "SHA-384";
	case NID_sha512:
		return "SHA-512";
	default:
		return NULL;
	}
}

void csod_v1_b64(const unsigned char *data, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
}

int csod_v1_signature_related(const char *name)
{
	if (strncasecmp(name, "META-INF/", 9) != 0)
		return 0;
	const char *rest = name + 9;
	if (*rest == 0 || strchr(rest, '/'))
		return 0;
	if (strcasecmp(rest, "MANIFEST.MF") == 0)
		return 1;
	const char *dot = strrchr(rest, '.');
	if (dot && (strcasecmp(dot, ".SF") == 0 || strcasecmp(dot, ".RSA") == 0 ||
	            strcasecmp(dot, ".DSA") == 0 || strcasecmp(dot, ".EC") == 0))
		return 1;
	if (strncasecmp(rest, "SIG-", 4) == 0 && dot) {
		size_t n = strlen(dot + 1);
		if (n < 1 || n > 3)
			return 0;
		for (const char *p = dot + 1; *p; p++)
			if (!isalnum((unsigned char)*p))
				return 0;
		return 1;
	}
	return 0;
}

int csod_v1_config_from(csod_v1_config *c, const csod_sign_options *opt, csod_error *err)
{
	memset(c, 0, sizeof *c);
	for (int i = 0; i < opt->n_digests && i < CSOD_MAX_DIGESTS; i++) {
		const EVP_MD *md = csod_digest_by_name(opt->digests[i]);
		if (!md || !csod_v1_md_attr_name(md))
			return csod_fail(err,
			                 "digest '%s' cannot be used for JAR signing (sha256, "
			                 "sha384, sha512, sha1)",
			                 opt->digests[i]);
		int dup = 0;
		for (int j = 0; j < c->n_md; j++)
			dup |= EVP_MD_type(c->md[j]) == EVP_MD_type(md);
		if (!dup)
			c->md[c->n_md++] = md;
	}
	if (c->n_md == 0)
		c->md[c->n_md++] = EVP_sha256();
	c->sig_md = c->md[0];
	const char *alias = opt->alias && *opt->alias ? opt->alias : "CSOD";
	size_t n = strlen(alias);
	if (n > 64)
		return csod_fail(
		    err, "JAR signer alias '%.80s' is too long (64 characters at most)", alias);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)alias[i];
		if (!isalnum(ch) && ch != '_' && ch != '-')
			return csod_fail(
			    err, "JAR signer alias '%s' may only hold letters, digits, '_' and '-'",
			    alias);
		c->alias[i] = (char)toupper(ch);
	}
	c->append = opt->append;
	c->timestamp = opt->timestamp;
	return csod_timestamp_rfc3161_only(&opt->timestamp, "JAR", err);
}

/* Streams an entry's content into one digest per md, using s's contexts. */
static int digest_entry(const csod_zip *z, const csod_zip_entry *e, csod_mdset *s,
                        const EVP_MD *const *md, int n_md, unsigned char out[][EVP_MAX_MD_SIZE],
                        csod_error *err)
{
	if (csod_mdset_start(s, md, n_md, err) < 0 ||
	    csod_zip_read_entry(z, e, csod_mdset_feed, s, err) < 0)
		return -1;
	return csod_mdset_finish(s, out, err);
}

static void digest_attr(const EVP_MD *md, const char *suffix, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-Digest%s", csod_v1_md_attr_name(md), suffix);
}

static void b64_digest(const EVP_MD *md, const unsigned char *data, size_t len, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	EVP_Digest(data, len, d, &dl, md, NULL);
	csod_v1_b64(d, dl, out);
}

/* Which input entries the output leaves out: the old manifest always,
 * other signers' files when replacing, a same-named signer when appending. */
static void choose_drops(const csod_zip *z, const csod_v1_config *c, csod_v1_result *r)
{
	size_t al = strlen(c->alias);
	for (size_t i = 0; i < z->n_entries; i++) {
		const char *n = z->entries[i].name;
		if (!csod_v1_signature_related(n))
			continue;
		const char *base = n + 9, *dot = strrchr(base, '.');
		int ours =
		    dot && (size_t)(dot - base) == al && strncasecmp(base, c->alias, al) == 0;
		r->drop[i] = !c->append || ours || strcasecmp(base, "MANIFEST.MF") == 0;
	}
}

int csod_v1_signs(const csod_v1_builder *b, const csod_zip *z, size_t i)
{
	const csod_zip_entry *e = &z->entries[i];
	return !b->r->drop[i] && !csod_v1_signature_related(e->name) &&
	       e->name[e->name_len - 1] != '/';
}

int csod_v1_entry_mds(csod_v1_builder *b, const char *name, const EVP_MD **mds, const char **have)
{
	const csod_v1_config *c = b->c;
	int n = 0;
	for (int k = 0; k < c->n_md; k++)
		mds[n++] = c->md[k];
	/* Appending: the section's existing digests (any algorithm) are
	 * checked against the entry, then kept (csod_v1_record). */
	csod_mf_section *old = c->append ? csod_mf_find(&b->mf, name) : NULL;
	for (size_t a = 0; old && a < old->n_attrs && n < CSOD_V1_MAX_MD; a++)
		if ((mds[n] = csod_v1_md_for_attr(old->attrs[a].name, "-Digest")))
			have[n++] = old->attrs[a].value;
	return n;
}

static int has_md(const EVP_MD *const *mds, int from, int n, const EVP_MD *md)
{
	for (int k = from; k < n; k++)
		if (EVP_MD_type(mds[k]) == EVP_MD_type(md))
			return 1;
	return 0;
}

/* Appending, whether an entry's section stays byte for byte as it is: when
 * it already has a digest verifiers accept for our signer (SHA-256 or
 * stronger, or each of our own algorithms). Then the other signers' .SF
 * section digests stay valid, and ours covers the section as it is. A
 * section with only weaker digests (SHA-1, which the JDK's default
 * policy treats as unsigned) gets ours added beside them, as jarsigner
 * does: else every entry would be unsigned to today's verifiers. */
static int keeps_section(const csod_v1_config *c, const EVP_MD *const *mds, int n)
{
	int all_ours = 1;
	for (int k = c->n_md; k < n; k++)
		if (csod_v1_md_strong(mds[k]))
			return 1;
	for (int k = 0; k < c->n_md; k++)
		all_ours &= has_md(mds, c->n_md, n, c->md[k]);
	return all_ours;
}

int csod_v1_record(csod_v1_builder *b, const char *name, const EVP_MD *const *mds,
                   const char *const *have, int n, unsigned char d[][EVP_MAX_MD_SIZE],
                   csod_error *err)
{
	const csod_v1_config *c = b->c;
	if (strpbrk(name, "\r\n"))
		return csod_fail(err, "entry name with a line break cannot be signed");
	for (int k = c->n_md; k < n; k++) {
		char b64[2 * EVP_MAX_MD_SIZE];
		csod_v1_b64(d[k], (size_t)EVP_MD_size(mds[k]), b64);
		if (strcmp(b64, have[k]) != 0)
			return csod_fail(
			    err,
			    "entry '%.200s' no longer matches the existing signature's "
			    "digest: cannot sign beside it (replace instead)",
			    name);
	}
	if (n > c->n_md && keeps_section(c, mds, n))
		return 0;
	csod_mf_section *s = csod_mf_section_for(&b->mf, name);
	if (!s)
		return csod_fail(err, "out of memory");
	for (int k = 0; k < c->n_md; k++) {
		char attr[64], b64[2 * EVP_MAX_MD_SIZE];
		if (has_md(mds, c->n_md, n, c->md[k]))
			continue; /* kept as it is, under its own name */
		digest_attr(c->md[k], "", attr, sizeof attr);
		csod_v1_b64(d[k], (size_t)EVP_MD_size(c->md[k]), b64);
		if (csod_mf_set(s, attr, b64) < 0)
			return csod_fail(err, "out of memory");
	}
	return 0;
}

/* Puts our digests of every signed entry into the manifest, reading each. */
static int digest_entries(const csod_zip *z, csod_v1_builder *b, csod_error *err)
{
	csod_mdset set = {0};
	int rc = 0;
	for (size_t i = 0; i < z->n_entries && rc == 0; i++) {
		if (!csod_v1_signs(b, z, i))
			continue;
		const csod_zip_entry *e = &z->entries[i];
		const EVP_MD *mds[CSOD_V1_MAX_MD];
		const char *have[CSOD_V1_MAX_MD];
		unsigned char d[CSOD_V1_MAX_MD][EVP_MAX_MD_SIZE];
		int n = csod_v1_entry_mds(b, e->name, mds, have);
		rc = digest_entry(z, e, &set, mds, n, d, err);
		if (rc == 0)
			rc = csod_v1_record(b, e->name, mds, have, n, d, err);
	}
	csod_mdset_free(&set);
	return rc;
}

static int build_sf(const csod_manifest *mf, const csod_v1_config *c, csod_v1_result *r,
                    csod_error *err)
{
	csod_buf one = {0};
	char attr[64], b64[2 * EVP_MAX_MD_SIZE];
	csod_mf_emit_line(&r->sf, "Signature-Version", "1.0");
	csod_mf_emit_line(&r->sf, "Created-By", CREATED_BY);
	for (int k = 0; k < c->n_md; k++) {
		digest_attr(c->md[k], "-Manifest", attr, sizeof attr);
		b64_digest(c->md[k], r->manifest.p, r->manifest.len, b64);
		csod_mf_emit_line(&r->sf, attr, b64);
		csod_mf_emit_section(&mf->main, &one);
		digest_attr(c->md[k], "-Manifest-Main-Attributes", attr, sizeof attr);
		b64_digest(c->md[k], one.p, one.len, b64);
		csod_mf_emit_line(&r->sf, attr, b64);
		one.len = 0;
	}
	if (c->android)
		csod_mf_emit_line(&r->sf, "X-Android-APK-Signed", "2, 3");
	csod_buf_add(&r->sf, "\r\n", 2);
	for (size_t i = 0; i < mf->n_sections; i++) {
		const csod_mf_section *s = &mf->sections[i];
		if (s->removed)
			continue;
		one.len = 0;
		csod_mf_emit_section(s, &one);
		csod_mf_emit_line(&r->sf, "Name", s->name);
		for (int k = 0; k < c->n_md; k++) {
			digest_attr(c->md[k], "", attr, sizeof attr);
			b64_digest(c->md[k], one.p, one.len, b64);
			csod_mf_emit_line(&r->sf, attr, b64);
		}
		csod_buf_add(&r->sf, "\r\n", 2);
	}
	int oom = one.oom || r->sf.oom;
	csod_buf_free(&one);
	return oom ? csod_fail(err, "out of memory") : 0;
}

/* The RFC 3161 token over the signer info's signature value, as its
 * unsigned attribute signatureTimeStampToken (1.2.840.113549.1.9.16.2.14),
 * where jarsigner -tsa puts it and reads it; SHA-256 imprint, jarsigner's
 * default. */
static int add_timestamp(PKCS7 *p7, const csod_timestamp_options *t, csod_error *err)
{
	PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7), 0);
	return csod_timestamp_signer_info(si, NID_id_smime_aa_timeStampToken, t, err);
}

/* PKCS#7 SignedData, detached, over the .SF; only EVP calls on the key so
 * that a PKCS#11 key works. No signed attributes, as jarsigner and
 * apksigner accept and Android's v1 verifier has always handled. */
static int build_block(const csod_identity *id, const csod_v1_config *c, csod_v1_result *r,
                       csod_error *err)
{
	const char *ext;
	switch (EVP_PKEY_base_id(id->key)) {
	case EVP_PKEY_RSA:
		ext = "RSA";
		break;
	case EVP_PKEY_EC:
		ext = "EC";
		break;
	case EVP_PKEY_DSA:
		ext = "DSA";
		break;
	default:
		return csod_fail(err, "the signing key type cannot sign JARs (RSA, EC or DSA)");
	}
	snprintf(r->sf_name, sizeof r->sf_name, "META-INF/%s.SF", c->alias);
	snprintf(r->block_name, sizeof r->block_name, "META-INF/%s.%s", c->alias, ext);
	int flags = PKCS7_DETACHED | PKCS7_BINARY | PKCS7_NOATTR | PKCS7_NOSMIMECAP | PKCS7_PARTIAL;
	int rc = -1;
	BIO *in = BIO_new_mem_buf(r->sf.p, (int)r->sf.len);
	PKCS7 *p7 = PKCS7_sign(NULL, NULL, NULL, NULL, flags);
	unsigned char *der = NULL;
	if (!in || !p7 || !PKCS7_sign_add_signer(p7, id->cert, id->key, c->sig_md, flags) ||
	    !PKCS7_add_certificate(p7, id->cert)) {
		csod_fail_ssl(err, "cannot create the PKCS#7 signature");
		goto out;
	}
	for (int i = 0; id->chain && i < sk_X509_num(id->chain); i++)
		if (X509_cmp(sk_X509_value(id->chain, i), id->cert) != 0 &&
		    !PKCS7_add_certificate(p7, sk_X509_value(id->chain, i))) {
			csod_fail_ssl(err, "cannot add the chain to the PKCS#7 signature");
			goto out;
		}
	if (!PKCS7_final(p7, in, flags)) {
		csod_fail_ssl(err, "cannot sign the signature file");
		goto out;
	}
	if (csod_timestamp_wanted(&c->timestamp) && add_timestamp(p7, &c->timestamp, err) < 0)
		goto out;
	int len = i2d_PKCS7(p7, &der);
	if (len <= 0) {
		csod_fail_ssl(err, "cannot encode the PKCS#7 signature");
		goto out;
	}
	csod_buf_add(&r->block, der, (size_t)len);
	rc = r->block.oom ? csod_fail(err, "out of memory") : 0;
out:
	OPENSSL_free(der);
	PKCS7_free(p7);
	BIO_free(in);
	return rc;
}

int csod_v1_begin(csod_v1_builder *b, const csod_zip *z, const csod_v1_config *c, csod_v1_result *r,
                  csod_error *err)
{
	memset(b, 0, sizeof *b);
	memset(r, 0, sizeof *r);
	b->c = c;
	b->r = r;
	if (!(r->drop = calloc(z->n_entries, 1)))
		return csod_fail(err, "out of memory");
	long mi = csod_zip_find(z, "META-INF/MANIFEST.MF");
	if (mi >= 0) {
		unsigned char *data = NULL;
		size_t len = 0;
		int rc =
		    csod_zip_read_small(z, &z->entries[mi], CSOD_MF_MAX_SIZE, &data, &len, err);
		if (rc == 0)
			rc = csod_mf_parse(&b->mf, data, len, "META-INF/MANIFEST.MF", err);
		free(data);
		if (rc < 0)
			return -1;
	} else if (csod_mf_init(&b->mf, CREATED_BY) < 0) {
		return csod_fail(err, "out of memory");
	}
	b->mf_ready = 1;
	choose_drops(z, c, r);
	if (!c->append) {
		/* Other signers' digests go; sections left with only Name too. */
		for (size_t i = 0; i < b->mf.n_sections; i++) {
			csod_mf_section *s = &b->mf.sections[i];
			if (csod_mf_remove_suffix(s, "-Digest") && s->n_attrs <= 1)
				s->removed = 1;
		}
	}
	return 0;
}

int csod_v1_finish(csod_v1_builder *b, const csod_identity *id, csod_error *err)
{
	csod_v1_result *r = b->r;
	csod_mf_emit(&b->mf, &r->manifest);
	int rc = r->manifest.oom ? csod_fail(err, "out of memory") : 0;
	if (rc == 0)
		rc = build_sf(&b->mf, b->c, r, err);
	if (rc == 0)
		rc = build_block(id, b->c, r, err);
	csod_v1_abort(b);
	return rc;
}

void csod_v1_abort(csod_v1_builder *b)
{
	if (b->mf_ready)
		csod_mf_free(&b->mf);
	b->mf_ready = 0;
}

int csod_v1_build(const csod_zip *z, const csod_identity *id, const csod_v1_config *c,
                  csod_v1_result *r, csod_error *err)
{
	csod_v1_builder b;
	if (csod_v1_begin(&b, z, c, r, err) < 0 || digest_entries(z, &b, err) < 0) {
		csod_v1_abort(&b);
		return -1;
	}
	return csod_v1_finish(&b, id, err);
}

void csod_v1_result_free(csod_v1_result *r)
{
	csod_buf_free(&r->manifest);
	csod_buf_free(&r->sf);
	csod_buf_free(&r->block);
	free(r->drop);
	r->drop = NULL;
}
