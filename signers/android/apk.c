/* The apk engine: v1 (JAR signing, when minSdkVersion < 24) then the APK
 * Signing Block with v2 and v3 signers. Entries are copied verbatim, in
 * input order, and aligned as zipalign does; each is read from the input
 * once, straight into the v2/v3 digester's chunk buffer, whose thread
 * hashes and writes it, while this thread inflates the same bytes for the
 * entry's v1 digest. That is why the v1 files (manifest, .SF,
 * block) come after the entries, as apksigner places them: the entries'
 * offsets, and so the v2/v3 chunks, must not depend on the v1 files, which
 * need every entry's digest first. The output is not read back here.
 * Existing signatures are always replaced: an APK has one signing identity
 * (key rotation is not supported), so nesting (append) is refused.
 *
 * minSdkVersion decides the schemes: given (--min-sdk, request.conf), or
 * read from the APK's own AndroidManifest.xml as apksigner reads it
 * (axml.h). Below 24 Android checks only v1, so v1 is added; v2 and v3
 * always are. apksigner adds v1 even from 24 on, where no platform needs
 * it (its verify then ignores it); csod leaves it out there. */
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "../java/repack.h"
#include "../common/timestamp.h"
#include "../java/v1.h"
#include "../java/zip_read.h"
#include "../java/zip_unpack.h"
#include "../java/zip_write.h"
#include "../signer.h"
#include "apk_block.h"
#include "apk_check.h"
#include "axml.h"

#define V1_NOT_NEEDED_FROM 24          /* Android 7.0 checks v2 */
#define MANIFEST_MAX       (16u << 20) /* real ones are at most a few hundred KiB */
#define SET_MIN_SDK                                                                                \
	"name the minimum SDK (csod-sign --min-sdk, request.conf min_sdk) to sign it anyway"

static int apk_detect(const unsigned char *head, size_t headlen, off_t size)
{
	(void)size;
	return headlen >= 4 && memcmp(head, "PK\003\004", 4) == 0;
}

/* The minSdkVersion to sign for: the one given, else the APK's. */
static int apk_min_sdk(const csod_zip *z, const csod_sign_options *opt, int *min_sdk,
                       csod_error *err)
{
	if (opt->min_sdk > 0) {
		*min_sdk = opt->min_sdk;
		return 0;
	}
	long i = csod_zip_find(z, "AndroidManifest.xml");
	if (i < 0)
		return csod_fail(err,
		                 "no AndroidManifest.xml to read minSdkVersion from; " SET_MIN_SDK);
	unsigned char *xml = NULL;
	size_t len = 0;
	csod_axml_sdk sdk;
	csod_error why;
	int rc = csod_zip_read_small(z, &z->entries[i], MANIFEST_MAX, &xml, &len, &why);
	if (rc == 0)
		rc = csod_axml_read_sdk(xml, len, &sdk, &why);
	free(xml);
	if (rc < 0)
		return csod_fail(err, "AndroidManifest.xml: %s; " SET_MIN_SDK, why.msg);
	*min_sdk = sdk.min_sdk;
	return 0;
}

static int refuse_append(const csod_sign_options *opt, csod_error *err)
{
	return opt->append ? csod_fail(err, "an APK cannot take a nested signature (--nest, "
	                                    "request.conf append): it has one signer, and "
	                                    "signing replaces the existing one")
	                   : 0;
}

static int apk_check_options(int fd, const char *name, const csod_sign_options *opt,
                             csod_error *err)
{
	(void)name; /* the caller names the file in the reason */
	if (refuse_append(opt, err) < 0)
		return -1;
	if (opt->min_sdk > 0)
		return 0;
	csod_zip z;
	if (csod_zip_open(&z, fd, "APK", err) < 0)
		return -1;
	int min_sdk, rc = apk_min_sdk(&z, opt, &min_sdk, err);
	csod_zip_close(&z);
	return rc;
}

/* The v1 digest Android versions down to min_sdk can check (SHA-256 came
 * with API 18 for RSA, 21 for ECDSA). */
static int v1_config(csod_v1_config *c, const csod_sign_options *opt, int min_sdk, EVP_PKEY *key,
                     csod_error *err)
{
	csod_sign_options o = *opt;
	o.n_digests = 0;
	o.append = 0;
	if (csod_v1_config_from(c, &o, err) < 0)
		return -1;
	int ec = EVP_PKEY_base_id(key) == EVP_PKEY_EC;
	if (ec && min_sdk < 18)
		return csod_fail(
		    err, "an EC key cannot sign APKs for minSdkVersion %d (v1 ECDSA needs 18)",
		    min_sdk);
	if (min_sdk < (ec ? 21 : 18))
		c->md[0] = c->sig_md = EVP_sha1();
	c->android = 1;
	return 0;
}

/* One entry's compressed bytes, as they are copied: inflated into the
 * running v1 digests. */
struct entry_feed {
	csod_zip_unpack u;
	csod_error *err;
};

static int feed_entry(void *ctx, const unsigned char *data, size_t len)
{
	struct entry_feed *f = ctx;
	return csod_zip_unpack_feed(&f->u, data, len, f->err);
}

/* Copies entry e, computing its v1 digests from the copied bytes. */
static int copy_signed_entry(csod_zip_out *o, const csod_zip *z, const csod_zip_entry *e,
                             csod_v1_builder *b, csod_mdset *set, csod_error *err)
{
	const EVP_MD *mds[CSOD_V1_MAX_MD];
	const char *have[CSOD_V1_MAX_MD];
	unsigned char d[CSOD_V1_MAX_MD][EVP_MAX_MD_SIZE];
	int n = csod_v1_entry_mds(b, e->name, mds, have);
	struct entry_feed f = {.err = err};
	if (csod_mdset_start(set, mds, n, err) < 0 ||
	    csod_zip_unpack_begin(&f.u, e, csod_mdset_feed, set, err) < 0)
		return -1;
	int rc =
	    csod_zip_out_copy_seen(o, z, e, csod_repack_alignment(e->name, 1), feed_entry, &f, err);
	if (rc == 0)
		rc = csod_zip_unpack_end(&f.u, err);
	csod_zip_unpack_free(&f.u);
	if (rc == 0)
		rc = csod_mdset_finish(set, d, err);
	if (rc == 0)
		rc = csod_v1_record(b, e->name, mds, have, n, d, err);
	return rc;
}

/* The entries section: every kept entry, then (v1) the three v1 files. */
static int write_entries(csod_zip_out *o, const csod_zip *z, csod_v1_builder *b,
                         const unsigned char *drop, const csod_identity *id, csod_error *err)
{
	csod_mdset set = {0};
	int rc = 0;
	for (size_t i = 0; i < z->n_entries && rc == 0; i++) {
		const csod_zip_entry *e = &z->entries[i];
		if (drop[i])
			continue;
		if (b && csod_v1_signs(b, z, i))
			rc = copy_signed_entry(o, z, e, b, &set, err);
		else
			rc = csod_zip_out_copy(o, z, e, csod_repack_alignment(e->name, 1), err);
	}
	csod_mdset_free(&set);
	if (rc < 0 || !b)
		return rc;
	csod_v1_result *v1 = b->r;
	if (csod_v1_finish(b, id, err) < 0 ||
	    csod_zip_out_add(o, "META-INF/MANIFEST.MF", v1->manifest.p, v1->manifest.len, 4, err) <
	        0 ||
	    csod_zip_out_add(o, v1->sf_name, v1->sf.p, v1->sf.len, 4, err) < 0)
		return -1;
	return csod_zip_out_add(o, v1->block_name, v1->block.p, v1->block.len, 4, err);
}

static unsigned char *apk_room(void *d, size_t *room)
{
	return csod_apk_digester_room(d, room);
}

static void apk_commit(void *d, size_t n)
{
	csod_apk_digester_commit(d, n);
}

/* Entries, then the signing block over the entries, central directory and
 * end record, then those two. b is NULL without v1. */
static int write_apk(const csod_zip *z, csod_v1_builder *b, const unsigned char *drop,
                     const csod_identity *id, int out_fd, csod_error *err)
{
	csod_zip_out o;
	csod_apk_digester d;
	csod_buf eocd = {0}, block = {0};
	csod_zip_out_init(&o, out_fd);
	int rc = csod_apk_digester_init(&d) < 0 ? csod_fail(err, "out of memory") : 0;
	/* The entries go through the digester, whose thread hashes and writes
	 * them; the sections after them are only hashed (the block goes
	 * first, once the digest is known). */
	const csod_zip_stage stage = {csod_apk_digester_feed, apk_room, apk_commit, &d};
	o.stage = &stage;
	csod_apk_digester_write_to(&d, out_fd, 0);
	if (rc == 0)
		rc = write_entries(&o, z, b, drop, id, err);
	o.stage = NULL;
	csod_apk_digester_end_section(&d);
	csod_apk_digester_write_to(&d, -1, 0);
	uint64_t block_offset = o.pos;
	unsigned char digest[CSOD_APK_SHA256_BYTES];
	if (rc == 0) {
		csod_apk_digester_feed(&d, o.cd.p, o.cd.len);
		csod_apk_digester_end_section(&d);
		csod_zip_out_eocd(&o, block_offset, z->comment, z->comment_len, &eocd);
		csod_apk_digester_feed(&d, eocd.p, eocd.len);
		rc = eocd.oom || o.cd.oom ? csod_fail(err, "out of memory")
		                          : csod_apk_digester_finish(&d, digest, err);
	}
	if (rc == 0)
		rc = csod_apk_build_block(digest, id, &block, err);
	if (rc == 0)
		rc = csod_zip_out_write(&o, block.p, block.len, err);
	if (rc == 0)
		rc = csod_zip_out_write(&o, o.cd.p, o.cd.len, err);
	if (rc == 0) {
		eocd.len = 0;
		csod_zip_out_eocd(&o, block_offset + block.len, z->comment, z->comment_len, &eocd);
		rc = eocd.oom ? csod_fail(err, "out of memory")
		              : csod_zip_out_write(&o, eocd.p, eocd.len, err);
	}
	csod_buf_free(&eocd);
	csod_buf_free(&block);
	csod_apk_digester_free(&d);
	csod_zip_out_free(&o);
	return rc;
}

static int apk_sign(int in_fd, int out_fd, const csod_identity *id, const csod_sign_options *opt,
                    csod_error *err)
{
	if (refuse_append(opt, err) < 0)
		return -1;
	if (!csod_apk_sig_alg(id->key))
		return csod_fail(err, "the signing key type cannot sign APKs (RSA or EC)");
	if (csod_timestamp_rfc3161_only(&opt->timestamp, "APK", err) < 0)
		return -1;
	csod_zip z;
	if (csod_zip_open(&z, in_fd, "APK", err) < 0)
		return -1;
	int rc = 0, min_sdk = 0;
	if (opt->max_size > 0 && z.size > (uint64_t)opt->max_size)
		rc = csod_fail(err, "APK is larger than the limit of %lld bytes",
		               (long long)opt->max_size);
	if (rc == 0)
		rc = apk_min_sdk(&z, opt, &min_sdk, err);
	/* Only the v1 (JAR) signature has a place for a timestamp; Android's
	 * v2 and v3 schemes have none. */
	if (rc == 0 && min_sdk >= V1_NOT_NEEDED_FROM && csod_timestamp_wanted(&opt->timestamp))
		csod_timestamp_note(
		    &opt->timestamp, LOG_NOTICE,
		    "no timestamp: APK Signature Scheme v2/v3 has no place for one, "
		    "and minSdkVersion %d needs no v1 (JAR) signature",
		    min_sdk);
	csod_v1_result v1;
	csod_v1_builder b;
	csod_v1_config cfg;
	memset(&v1, 0, sizeof v1);
	memset(&b, 0, sizeof b);
	int want_v1 = min_sdk < V1_NOT_NEEDED_FROM;
	if (rc == 0 && want_v1) {
		rc = v1_config(&cfg, opt, min_sdk, id->key, err);
		if (rc == 0)
			rc = csod_v1_begin(&b, &z, &cfg, &v1, err);
	} else if (rc == 0) {
		/* No v1: old v1 signature files go (they would be stale), the
		 * manifest stays as an ordinary entry. */
		v1.drop = calloc(z.n_entries, 1);
		if (!v1.drop)
			rc = csod_fail(err, "out of memory");
		for (size_t i = 0; rc == 0 && i < z.n_entries; i++)
			v1.drop[i] = csod_v1_signature_related(z.entries[i].name) &&
			             strcmp(z.entries[i].name, "META-INF/MANIFEST.MF") != 0;
	}
	if (rc == 0)
		rc = write_apk(&z, want_v1 ? &b : NULL, v1.drop, id, out_fd, err);
	if (want_v1)
		csod_v1_abort(&b);
	csod_v1_result_free(&v1);
	csod_zip_close(&z);
	return rc;
}

const csod_signer csod_signer_apk = {
    .name = "apk",
    .service = "android",
    .detect = apk_detect,
    .output_name = NULL,
    .sign = apk_sign,
    .check_options = apk_check_options,
    .verify = csod_apk_self_check,
};
