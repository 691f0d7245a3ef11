/* Authenticode for MSIX and APPX packages. The package is re-written with
 * every entry's bytes and local header copied as they are (the central
 * directory's extra fields and comments dropped, as the APPX SIP leaves
 * them out when it re-creates the directory to hash it; the local extra
 * fields stay, since the block map counts them), [Content_Types].xml
 * given the signature's content type, and AppxSignature.p7x ("PKCX" and the DER PKCS#7) added as
 * the last entry. What is signed is a blob of hashes (appx_package.h), with the digest the block
 * map names: Windows takes no other. The manifest's publisher must be the signing certificate's
 * subject, or Windows refuses to install the package; so do we. Bundles are signed the same way,
 * with the bundle SIP and AppxBundleManifest.xml's publisher. One signature only: Windows reads no
 * nested ones from a package. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../common/fileio.h"
#include "../java/zip_write.h"
#include "../signer.h"
#include "appx_blockmap.h"
#include "appx_package.h"
#include "spc.h"

#define MAX_SIGNATURE (16u << 20)

/* SpcSipInfo for packages: version 0x01010000, the APPX SIP's GUID
 * {0AC5DF4B-CE07-4DE2-B76E-23C839A09FD1}, then five zero integers. */
static const unsigned char appx_sip_info[] = {
    0x30, 0x27, 0x02, 0x04, 0x01, 0x01, 0x00, 0x00, 0x04, 0x10, 0x4b, 0xdf, 0xc5, 0x0a,
    0x07, 0xce, 0xe2, 0x4d, 0xb7, 0x6e, 0x23, 0xc8, 0x39, 0xa0, 0x9f, 0xd1, 0x02, 0x01,
    0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00};

/* The same for bundles, with the bundle SIP's GUID
 * {0F5F58B3-AADE-4B9A-A434-95742D92ECEB}. */
static const unsigned char bundle_sip_info[] = {
    0x30, 0x27, 0x02, 0x04, 0x01, 0x01, 0x00, 0x00, 0x04, 0x10, 0xb3, 0x58, 0x5f, 0x0f,
    0xde, 0xaa, 0x9a, 0x4b, 0xa4, 0x34, 0x95, 0x74, 0x2d, 0x92, 0xec, 0xeb, 0x02, 0x01,
    0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00};

typedef struct blob {
	const EVP_MD *md;
	unsigned char p[CSOD_SPC_MAX_IMAGE_HASH];
	size_t len;
} blob;

static int blob_hash(void *ctx, const EVP_MD *md, unsigned char *out, unsigned *out_len,
                     csod_error *err)
{
	const blob *b = ctx;
	if (EVP_MD_get_type(md) != EVP_MD_get_type(b->md))
		return csod_fail(err, "no package hash for %s", EVP_MD_get0_name(md));
	memcpy(out, b->p, b->len);
	*out_len = (unsigned)b->len;
	return 0;
}

/* The digest the package must be signed with (its block map's), unless
 * the options ask for another or for more than one signature. */
static int options_fit(const csod_appx *a, const csod_sign_options *opt, csod_error *err)
{
	if (opt->append)
		return csod_fail(err, "an MSIX/APPX package carries one signature: it cannot be "
		                      "nested onto an existing one");
	if (opt->n_digests > 1)
		return csod_fail(err,
		                 "an MSIX/APPX package carries one signature: give one digest");
	const EVP_MD *md = opt->n_digests ? csod_digest_by_name(opt->digests[0]) : NULL;
	if (md && EVP_MD_get_type(md) != EVP_MD_get_type(a->md))
		return csod_fail(err,
		                 "the package's block map uses %s: it must be signed with that",
		                 EVP_MD_get0_name(a->md));
	return 0;
}

/* Windows installs a package only when its manifest's publisher is the
 * signing certificate's subject. */
static int publisher_fits(const csod_appx *a, X509 *cert, csod_error *err)
{
	char subject[CSOD_APPX_NAME_MAX], publisher[CSOD_APPX_NAME_MAX];
	if (csod_appx_subject_text(X509_get_subject_name(cert), subject, sizeof subject) < 0)
		return csod_fail(err, "the signing certificate's subject is too long");
	if (csod_appx_publisher_canonical(a->publisher, publisher, sizeof publisher, err) < 0)
		return -1;
	if (strcmp(subject, publisher) != 0)
		return csod_fail(err,
		                 "%s's publisher \"%.300s\" is not the signing certificate's "
		                 "subject \"%.300s\" (Windows would refuse the package)",
		                 a->bundle ? "AppxBundleManifest.xml" : "AppxManifest.xml",
		                 a->publisher, subject);
	return 0;
}

/* The self-check's own hash of the written entries, [0, end) of the
 * output read back on the second core while the signing hashes the same
 * bytes (those bytes are final: only the signature and the directory
 * follow). The self-check takes it when the finished output, parsed on
 * its own, puts its signature at end. */
typedef struct read_back {
	int fd, rc;
	uint64_t end;
	const EVP_MD *md;
	unsigned char pc[EVP_MAX_MD_SIZE];
	csod_error err;
} read_back;

static void *read_back_thread(void *arg)
{
	read_back *r = arg;
	r->rc = csod_appx_hash_range(r->fd, 0, r->end, r->md, r->pc, &r->err);
	return NULL;
}

/* Every entry but an old signature, [Content_Types].xml replaced by ct;
 * then the blob over what was written (and, given rb, the self-check's
 * hash of it beside). */
static int write_entries(const csod_appx *a, const unsigned char *ct, size_t ct_len,
                         csod_zip_out *o, blob *b, read_back *rb, csod_error *err)
{
	for (size_t i = 0; i < a->z.n_entries; i++) {
		const csod_zip_entry *e = &a->z.entries[i];
		int rc = 0;
		if (strcmp(e->name, APPX_CONTENT_TYPES) == 0)
			rc = csod_zip_out_add(o, e->name, ct, ct_len, 0, err);
		else if (strcmp(e->name, APPX_SIGNATURE_NAME) != 0)
			rc = csod_zip_out_copy(o, &a->z, e, 0, err);
		if (rc < 0)
			return -1;
	}
	unsigned char pc[EVP_MAX_MD_SIZE], cd[EVP_MAX_MD_SIZE], cth[EVP_MAX_MD_SIZE];
	b->md = a->md;
	pthread_t t;
	int threaded = 0;
	if (rb) {
		*rb = (read_back){.fd = o->fd, .rc = -1, .end = o->pos, .md = a->md};
		threaded = pthread_create(&t, NULL, read_back_thread, rb) == 0;
	}
	int hashed = csod_appx_hash_range(o->fd, 0, o->pos, a->md, pc, err);
	if (threaded)
		pthread_join(t, NULL);
	if (hashed < 0 ||
	    csod_appx_dir_hash(a->md, o->cd.p, o->cd.len, o->n_entries, o->pos, a->z.comment,
	                       a->z.comment_len, cd, err) < 0 ||
	    !EVP_Digest(ct, ct_len, cth, NULL, a->md, NULL))
		return -1;
	b->len = csod_appx_blob(a->md, pc, cd, cth, a->bm, a->has_ci ? a->ci : NULL, b->p);
	return 0;
}

static int sign_into(int in, int out, const csod_identity *id, const csod_sign_options *opt,
                     read_back *rb, csod_error *err)
{
	csod_appx a;
	if (csod_appx_open(&a, in, "the package", err) < 0)
		return -1;
	csod_zip_out o;
	csod_zip_out_init(&o, out);
	o.bare = 1;
	csod_buf tail = {0};
	unsigned char *ct = NULL, *der = NULL, *sig = NULL;
	size_t ct_len = 0;
	blob *b = calloc(1, sizeof *b);
	int der_len = -1, rc = -1;
	if (!b || options_fit(&a, opt, err) < 0 || publisher_fits(&a, id->cert, err) < 0 ||
	    (!csod_appx_block_map_remembered(&a) && csod_appx_check_block_map(&a, err) < 0) ||
	    csod_appx_content_types_signed((const char *)a.content_types, a.content_types_len, &ct,
	                                   &ct_len, err) < 0 ||
	    write_entries(&a, ct, ct_len, &o, b, rb, err) < 0)
		goto out;
	der_len = csod_spc_sign_sip_der(id, opt, a.bundle ? bundle_sip_info : appx_sip_info,
	                                sizeof appx_sip_info, NULL, blob_hash, b, &der, err);
	if (der_len < 0 || !(sig = malloc((size_t)der_len + 4)))
		goto out;
	memcpy(sig, "PKCX", 4);
	memcpy(sig + 4, der, (size_t)der_len);
	if (csod_zip_out_add(&o, APPX_SIGNATURE_NAME, sig, (size_t)der_len + 4, 0, err) < 0)
		goto out;
	uint64_t cd_offset = o.pos;
	csod_buf_add(&tail, o.cd.p, o.cd.len);
	csod_zip_out_eocd(&o, cd_offset, a.z.comment, a.z.comment_len, &tail);
	rc = tail.oom ? csod_fail(err, "out of memory")
	              : csod_zip_out_write(&o, tail.p, tail.len, err);
out:
	if (!b)
		csod_fail(err, "out of memory");
	free(b);
	free(ct);
	free(sig);
	OPENSSL_free(der);
	csod_buf_free(&tail);
	csod_zip_out_free(&o);
	csod_appx_close(&a);
	return rc;
}

static int appx_sign(int in, int out, const csod_identity *id, const csod_sign_options *opt,
                     csod_error *err)
{
	return sign_into(in, out, id, opt, NULL, err);
}

/* The signature names the SIP of the package's kind. */
static int right_sip(PKCS7 *p7, int bundle, csod_error *err)
{
	if (!csod_spc_names_sip(p7, bundle ? bundle_sip_info : appx_sip_info, sizeof appx_sip_info))
		return csod_fail(err, "the signature is not for an MSIX/APPX %s (not its SIP)",
		                 bundle ? "bundle" : "package");
	return 0;
}

typedef struct verify_ctx {
	const csod_appx *in, *out;
	const csod_zip_entry *sig;
	const read_back *known; /* NULL: hash the output here */
} verify_ctx;

/* The blob recomputed from the signed package must be the signed one. */
static int check_blob(void *ctx, const EVP_MD *md, const unsigned char *digest, size_t len,
                      csod_error *err)
{
	const verify_ctx *v = ctx;
	const csod_zip *z = &v->out->z;
	if (EVP_MD_get_type(md) != EVP_MD_get_type(v->out->md))
		return csod_fail(err, "the signature's digest %s is not the block map's %s",
		                 EVP_MD_get0_name(md), EVP_MD_get0_name(v->out->md));
	size_t sig_record = 46u + v->sig->name_len + v->sig->cd_extra_len + v->sig->comment_len;
	size_t cd_len = (size_t)z->cd_size - sig_record;
	unsigned char pc[EVP_MAX_MD_SIZE], cd[EVP_MAX_MD_SIZE], ct[EVP_MAX_MD_SIZE];
	unsigned char *dir = malloc(cd_len ? cd_len : 1);
	blob b;
	int rc = dir ? csod_zip_pread(z, dir, cd_len, z->cd_offset, err)
	             : csod_fail(err, "out of memory");
	const read_back *k = v->known;
	if (rc == 0 && k && k->rc == 0 && k->end == v->sig->local_offset &&
	    EVP_MD_get_type(k->md) == EVP_MD_get_type(md))
		memcpy(pc, k->pc, sizeof pc);
	else if (rc == 0)
		rc = csod_appx_hash_range(z->fd, 0, v->sig->local_offset, md, pc, err);
	if (rc == 0)
		rc = csod_appx_dir_hash(md, dir, cd_len, z->n_entries - 1, v->sig->local_offset,
		                        z->comment, z->comment_len, cd, err);
	free(dir);
	if (rc < 0)
		return -1;
	EVP_Digest(v->out->content_types, v->out->content_types_len, ct, NULL, md, NULL);
	b.len = csod_appx_blob(md, pc, cd, ct, v->out->bm, v->out->has_ci ? v->out->ci : NULL, b.p);
	if (b.len != len || memcmp(b.p, digest, len) != 0)
		return csod_fail(err, "the package's hashes do not match the signed ones");
	return 0;
}

/* The signed package holds the input's entries, unchanged but for the
 * content types, and its signature last. */
static int same_content(const verify_ctx *v, csod_error *err)
{
	const csod_zip *in = &v->in->z, *out = &v->out->z;
	size_t kept = 0;
	for (size_t i = 0; i < in->n_entries; i++) {
		const csod_zip_entry *e = &in->entries[i];
		if (strcmp(e->name, APPX_SIGNATURE_NAME) == 0)
			continue;
		long k = csod_zip_find(out, e->name);
		const csod_zip_entry *o = k < 0 ? NULL : &out->entries[k];
		if (!o || (strcmp(e->name, APPX_CONTENT_TYPES) != 0 &&
		           (o->crc != e->crc || o->usize != e->usize || o->csize != e->csize ||
		            o->method != e->method)))
			return csod_fail(err, "the signed package's %s differs from the input's",
			                 e->name);
		kept++;
	}
	unsigned char *ct = NULL;
	size_t ct_len = 0;
	if (csod_appx_content_types_signed((const char *)v->in->content_types,
	                                   v->in->content_types_len, &ct, &ct_len, err) < 0)
		return -1;
	int same =
	    ct_len == v->out->content_types_len && memcmp(ct, v->out->content_types, ct_len) == 0;
	free(ct);
	if (!same)
		return csod_fail(err, "the signed package's content types are not the input's");
	if (kept + 1 != out->n_entries)
		return csod_fail(err, "the signed package holds entries the input does not");
	return 0;
}

static PKCS7 *read_signature(const csod_appx *a, const csod_zip_entry **sig, csod_error *err)
{
	const csod_zip *z = &a->z;
	long i = csod_zip_find(z, APPX_SIGNATURE_NAME);
	*sig = i < 0 ? NULL : &z->entries[i];
	if (!*sig)
		return csod_fail(err, "the package is not signed (no %s)", APPX_SIGNATURE_NAME),
		       NULL;
	if ((size_t)i != z->n_entries - 1 || (*sig)->data_end != z->cd_offset)
		return csod_fail(err, "%s is not the package's last entry", APPX_SIGNATURE_NAME),
		       NULL;
	unsigned char *data = NULL;
	size_t len = 0;
	if (csod_zip_read_small(z, *sig, MAX_SIGNATURE, &data, &len, err) < 0)
		return NULL;
	const unsigned char *p = data + 4;
	PKCS7 *p7 =
	    len > 4 && memcmp(data, "PKCX", 4) == 0 ? d2i_PKCS7(NULL, &p, (long)len - 4) : NULL;
	free(data);
	if (!p7)
		csod_fail(err, "%s does not hold a PKCX signature", APPX_SIGNATURE_NAME);
	return p7;
}

static int verify_known(int in, int out, X509_STORE *trust, const read_back *known, csod_error *err)
{
	csod_appx a_in, a_out;
	if (csod_appx_open(&a_out, out, "the signed package", err) < 0)
		return -1;
	if (csod_appx_open(&a_in, in, "the package", err) < 0) {
		csod_appx_close(&a_out);
		return -1;
	}
	verify_ctx v = {&a_in, &a_out, NULL, known};
	int rc = -1;
	PKCS7 *p7 = read_signature(&a_out, &v.sig, err);
	if (p7 && right_sip(p7, a_out.bundle, err) == 0 && same_content(&v, err) == 0) {
		csod_spc_checker c;
		csod_spc_checker_init(&c, trust, check_blob, &v);
		c.blob = 1;
		rc = csod_spc_check(&c, p7, err) < 0 ? -1 : csod_spc_checker_done(&c, err);
	}
	PKCS7_free(p7);
	csod_appx_close(&a_in);
	csod_appx_close(&a_out);
	return rc;
}

static int appx_verify(int in, int out, X509_STORE *trust, csod_error *err)
{
	return verify_known(in, out, trust, NULL, err);
}

/* sign() then verify(), with the verify's hash of the output's entries
 * taken while signing (read_back). */
static int appx_sign_checked(int in, int out, const csod_identity *id, const csod_sign_options *opt,
                             X509_STORE *trust, csod_error *err)
{
	read_back *rb = calloc(1, sizeof *rb);
	int rc = !rb ? (csod_fail(err, "out of memory"), CSOD_SIGN_FAILED)
	         : sign_into(in, out, id, opt, rb, err) < 0 ? CSOD_SIGN_FAILED
	                                                    : 0;
	if (rc == 0) {
		csod_write_back_all(out);
		rc = verify_known(in, out, trust, rb, err) < 0 ? CSOD_CHECK_FAILED : 0;
	}
	free(rb);
	return rc;
}

static int appx_check(int fd, const char *name, csod_error *err)
{
	csod_appx a;
	csod_error why;
	if (csod_appx_open(&a, fd, name, err) < 0)
		return -1;
	int rc = csod_appx_check_block_map(&a, &why);
	if (rc == 0)
		csod_appx_block_map_remember(&a);
	csod_appx_close(&a);
	return rc < 0 ? csod_fail(err, "%s: %s", name, why.msg) : 0;
}

static int appx_check_options(int fd, const char *name, const csod_sign_options *opt,
                              csod_error *err)
{
	(void)name; /* the caller names the file in the reason */
	csod_appx a;
	if (csod_appx_open(&a, fd, "the package", err) < 0)
		return -1;
	int rc = options_fit(&a, opt, err);
	csod_appx_close(&a);
	return rc;
}

/* Packages are ZIP archives: taken by name only. */
static int appx_detect(const unsigned char *head, size_t len, off_t size)
{
	(void)size;
	return len >= 4 && memcmp(head, "PK\3\4", 4) == 0;
}

static const char *const appx_extensions[] = {"msix", "appx", "msixbundle", "appxbundle", NULL};

const csod_signer csod_signer_appx = {
    .name = "appx",
    .service = "authenticode",
    .detect = appx_detect,
    .output_name = NULL,
    .sign = appx_sign,
    .check = appx_check,
    .check_options = appx_check_options,
    .verify = appx_verify,
    .sign_checked = appx_sign_checked,
    .extensions = appx_extensions,
};
