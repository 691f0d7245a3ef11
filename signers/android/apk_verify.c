/* Our own check of an APK's v2 and v3 signers: recompute the chunked
 * digest from the archive as written, check each signer's signature, its
 * public key against its certificate, and the certificate's chain. Every
 * length read from the block is checked against what remains. */
#include "apk_block.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#define MAX_BLOCK_READ  (16u * 1024u * 1024u)
#define VERIFY_IO_CHUNK (256u * 1024u)

struct rd {
	const unsigned char *p;
	size_t n;
};

static int get_u32(struct rd *r, uint32_t *v)
{
	if (r->n < 4)
		return -1;
	*v = csod_le32(r->p);
	r->p += 4;
	r->n -= 4;
	return 0;
}

static int get_lp(struct rd *r, struct rd *sub)
{
	uint32_t len;
	if (get_u32(r, &len) < 0 || len > r->n)
		return -1;
	sub->p = r->p;
	sub->n = len;
	r->p += len;
	r->n -= len;
	return 0;
}

/* Reads [off, off + len) straight into the digester's chunk (no copy), and
 * shows each piece to seen while it is there. */
static int digest_range(const csod_zip *z, csod_apk_digester *d, uint64_t off, uint64_t len,
                        const csod_apk_seen *seen, csod_error *err)
{
	while (len) {
		size_t room;
		unsigned char *p = csod_apk_digester_room(d, &room);
		if (!p)
			return csod_fail(err, "out of memory");
		size_t n = len < VERIFY_IO_CHUNK ? (size_t)len : VERIFY_IO_CHUNK;
		if (n > room)
			n = room;
		if (csod_zip_pread(z, p, n, off, err) < 0)
			return -1;
		csod_apk_digester_commit(d, n);
		if (seen && seen->fn(seen->ctx, off, p, n, err) < 0)
			return -1;
		off += n;
		len -= n;
	}
	csod_apk_digester_end_section(d);
	return 0;
}

/* The content digest as the spec defines it: entries, central directory,
 * end record with its directory offset pointing at the signing block. */
static int content_digest(const csod_zip *z, const csod_apk_seen *seen,
                          unsigned char out[CSOD_APK_SHA256_BYTES], csod_error *err)
{
	csod_apk_digester d;
	uint64_t eocd_len = z->size - z->eocd_offset;
	unsigned char *eocd = malloc((size_t)eocd_len);
	int rc = csod_apk_digester_init(&d) < 0 || !eocd ? csod_fail(err, "out of memory") : 0;
	if (rc == 0)
		rc = digest_range(z, &d, 0, z->apk_sig_block_offset, seen, err);
	if (rc == 0)
		rc = digest_range(z, &d, z->cd_offset, z->cd_size, NULL, err);
	if (rc == 0 && (rc = csod_zip_pread(z, eocd, (size_t)eocd_len, z->eocd_offset, err)) == 0) {
		csod_put32(eocd + 16, (uint32_t)z->apk_sig_block_offset);
		csod_apk_digester_feed(&d, eocd, (size_t)eocd_len);
		rc = csod_apk_digester_finish(&d, out, err);
	}
	csod_apk_digester_free(&d);
	free(eocd);
	return rc;
}

static int check_chain(X509 *leaf, STACK_OF(X509) * untrusted, X509_STORE *trust, const char *what,
                       csod_error *err)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = -1;
	if (ctx && X509_STORE_CTX_init(ctx, trust, leaf, untrusted) == 1) {
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
		if (X509_verify_cert(ctx) == 1)
			rc = 0;
		else
			csod_fail(err, "%s signer certificate does not chain to a trusted root: %s",
			          what,
			          X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	} else {
		csod_fail_ssl(err, "cannot check the %s signer's chain", what);
	}
	X509_STORE_CTX_free(ctx);
	return rc;
}

/* What the v2 signer's checks found, for the v3 signer: ours carry the same
 * public key and certificates, and the same bytes give the same answer, so
 * they are decoded and chained once (an OpenSSL 3 decode is ~0.1 ms). */
struct signer_memo {
	struct rd pub; /* the key below was decoded from these bytes */
	EVP_PKEY *key;
	struct rd certs; /* these certificates, with pub, checked out */
	struct rd certs_pub;
	int certs_ok;
};

static int same(struct rd a, struct rd b)
{
	return a.p && b.p && a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

/* Certificates of the signed data: the first is the signer's. */
static int check_certs(struct rd certs, struct rd pub, X509_STORE *trust, const char *what,
                       struct signer_memo *memo, csod_error *err)
{
	if (memo->certs_ok && same(certs, memo->certs) && same(pub, memo->certs_pub))
		return 0;
	memo->certs_ok = 0;
	STACK_OF(X509) *all = sk_X509_new_null();
	int rc = all ? 0 : csod_fail(err, "out of memory");
	while (rc == 0 && certs.n) {
		struct rd c;
		const unsigned char *p;
		X509 *x = NULL;
		if (get_lp(&certs, &c) < 0 || (p = c.p, !(x = d2i_X509(NULL, &p, (long)c.n))) ||
		    !sk_X509_push(all, x)) {
			X509_free(x);
			rc = csod_fail(err, "%s signer: corrupt certificate", what);
		}
	}
	if (rc == 0 && sk_X509_num(all) == 0)
		rc = csod_fail(err, "%s signer has no certificate", what);
	unsigned char *der = NULL;
	int der_len = rc == 0 ? i2d_PUBKEY(X509_get0_pubkey(sk_X509_value(all, 0)), &der) : 0;
	if (rc == 0 && (der_len <= 0 || (size_t)der_len != pub.n || memcmp(der, pub.p, pub.n) != 0))
		rc = csod_fail(err, "%s signer's public key differs from its certificate's", what);
	if (rc == 0)
		rc = check_chain(sk_X509_value(all, 0), all, trust, what, err);
	if (rc == 0) {
		memo->certs = certs;
		memo->certs_pub = pub;
		memo->certs_ok = 1;
	}
	OPENSSL_free(der);
	sk_X509_pop_free(all, X509_free);
	return rc;
}

static int check_signature(struct rd sigs, struct rd pub, struct rd sd, uint32_t *alg,
                           const char *what, struct signer_memo *memo, csod_error *err)
{
	if (!memo->key || !same(pub, memo->pub)) {
		EVP_PKEY_free(memo->key);
		const unsigned char *p = pub.p;
		memo->key = d2i_PUBKEY(NULL, &p, (long)pub.n);
		memo->pub = pub;
	}
	EVP_PKEY *key = memo->key;
	if (!key)
		return csod_fail(err, "%s signer: corrupt public key", what);
	int rc = csod_fail(err, "%s signer: no signature with a supported algorithm", what);
	while (sigs.n) {
		struct rd one, sig;
		if (get_lp(&sigs, &one) < 0 || get_u32(&one, alg) < 0 || get_lp(&one, &sig) < 0) {
			rc = csod_fail(err, "%s signer: corrupt signature list", what);
			break;
		}
		if (*alg != csod_apk_sig_alg(key))
			continue;
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
		         EVP_DigestVerify(ctx, sig.p, sig.n, sd.p, sd.n) == 1;
		EVP_MD_CTX_free(ctx);
		rc = ok ? 0 : csod_fail_ssl(err, "%s signer: signature does not verify", what);
		break;
	}
	return rc;
}

static int check_signer(struct rd signer, int v3, const unsigned char *digest, X509_STORE *trust,
                        struct signer_memo *memo, csod_error *err)
{
	const char *what = v3 ? "APK v3" : "APK v2";
	struct rd sd, sigs, pub, digests, certs;
	uint32_t min_sdk = 0, max_sdk = 0, smin = 0, smax = 0, alg = 0;
	if (get_lp(&signer, &sd) < 0 ||
	    (v3 && (get_u32(&signer, &min_sdk) < 0 || get_u32(&signer, &max_sdk) < 0)) ||
	    get_lp(&signer, &sigs) < 0 || get_lp(&signer, &pub) < 0)
		return csod_fail(err, "%s signer is corrupt", what);
	if (check_signature(sigs, pub, sd, &alg, what, memo, err) < 0)
		return -1;
	struct rd body = sd;
	if (get_lp(&body, &digests) < 0 || get_lp(&body, &certs) < 0 ||
	    (v3 && (get_u32(&body, &smin) < 0 || get_u32(&body, &smax) < 0)))
		return csod_fail(err, "%s signed data is corrupt", what);
	if (v3 && (smin != min_sdk || smax != max_sdk || min_sdk > max_sdk))
		return csod_fail(err, "%s signer's SDK range is inconsistent", what);
	int found = 0;
	while (digests.n) {
		struct rd one, d;
		uint32_t dalg;
		if (get_lp(&digests, &one) < 0 || get_u32(&one, &dalg) < 0 || get_lp(&one, &d) < 0)
			return csod_fail(err, "%s digest list is corrupt", what);
		if (dalg != alg)
			continue;
		if (d.n != CSOD_APK_SHA256_BYTES || memcmp(d.p, digest, d.n) != 0)
			return csod_fail(err, "%s digest does not match the APK's content", what);
		found = 1;
	}
	if (!found)
		return csod_fail(err, "%s signer has no digest for its signature algorithm", what);
	return check_certs(certs, pub, trust, what, memo, err);
}

static int check_scheme(struct rd value, int v3, const unsigned char *digest, X509_STORE *trust,
                        struct signer_memo *memo, csod_error *err)
{
	struct rd signers, signer;
	if (get_lp(&value, &signers) < 0)
		return csod_fail(err, "APK v%d signer list is corrupt", v3 ? 3 : 2);
	int n = 0;
	while (signers.n) {
		if (get_lp(&signers, &signer) < 0)
			return csod_fail(err, "APK v%d signer list is corrupt", v3 ? 3 : 2);
		if (check_signer(signer, v3, digest, trust, memo, err) < 0)
			return -1;
		n++;
	}
	return n ? 0 : csod_fail(err, "APK v%d block has no signer", v3 ? 3 : 2);
}

int csod_apk_verify_block(const csod_zip *z, X509_STORE *trust, const csod_apk_seen *seen,
                          csod_error *err)
{
	if (!z->has_apk_sig_block)
		return csod_fail(err, "no APK signing block");
	if (z->apk_sig_block_size > MAX_BLOCK_READ)
		return csod_fail(err, "APK signing block is too large to check");
	unsigned char digest[CSOD_APK_SHA256_BYTES];
	if (content_digest(z, seen, digest, err) < 0)
		return -1;
	size_t len = (size_t)z->apk_sig_block_size;
	unsigned char *block = malloc(len);
	if (!block)
		return csod_fail(err, "out of memory");
	int rc = csod_zip_pread(z, block, len, z->apk_sig_block_offset, err);
	struct rd pairs = {block + 8, len - 8 - 24};
	struct signer_memo memo = {0};
	int schemes = 0;
	while (rc == 0 && pairs.n >= 12) {
		uint64_t plen = csod_le64(pairs.p);
		uint32_t id = csod_le32(pairs.p + 8);
		if (plen < 4 || plen > pairs.n - 8) {
			rc = csod_fail(err, "corrupt APK signing block");
			break;
		}
		struct rd value = {pairs.p + 12, (size_t)plen - 4};
		if (id == CSOD_APK_V2_ID || id == CSOD_APK_V3_ID) {
			int v3 = id == CSOD_APK_V3_ID;
			rc = check_scheme(value, v3, digest, trust, &memo, err);
			schemes |= v3 ? 2 : 1;
		}
		pairs.p += 8 + plen;
		pairs.n -= 8 + (size_t)plen;
	}
	if (rc == 0 && schemes != 3)
		rc = csod_fail(err, "APK signing block lacks a %s signature",
		               schemes & 1 ? "v3" : "v2");
	EVP_PKEY_free(memo.key);
	free(block);
	return rc;
}
