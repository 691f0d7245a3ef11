/* Building the APK Signing Block; see apk_block.h. */
#include "apk_block.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#define APK_SIG_MAGIC "APK Sig Block 42"

uint32_t csod_apk_sig_alg(EVP_PKEY *key)
{
	switch (EVP_PKEY_base_id(key)) {
	case EVP_PKEY_RSA:
		return 0x0103; /* RSASSA-PKCS1-v1_5 with SHA2-256 */
	case EVP_PKEY_EC:
		return 0x0201; /* ECDSA with SHA2-256 */
	default:
		return 0;
	}
}

static void add_der_cert(csod_buf *b, X509 *cert)
{
	unsigned char *der = NULL;
	int len = i2d_X509(cert, &der);
	if (len <= 0) {
		b->oom = 1;
		return;
	}
	size_t m = csod_buf_lp_begin(b);
	csod_buf_add(b, der, (size_t)len);
	csod_buf_lp_end(b, m);
	OPENSSL_free(der);
}

/* signed data: digests, certificates, [v3: min and max SDK], attributes. */
static void build_signed_data(csod_buf *b, int v3, uint32_t alg, const unsigned char *digest,
                              const csod_identity *id)
{
	size_t seq = csod_buf_lp_begin(b), one = csod_buf_lp_begin(b);
	csod_buf_u32(b, alg);
	size_t d = csod_buf_lp_begin(b);
	csod_buf_add(b, digest, CSOD_APK_SHA256_BYTES);
	csod_buf_lp_end(b, d);
	csod_buf_lp_end(b, one);
	csod_buf_lp_end(b, seq);
	seq = csod_buf_lp_begin(b);
	add_der_cert(b, id->cert);
	for (int i = 0; id->chain && i < sk_X509_num(id->chain); i++) {
		X509 *c = sk_X509_value(id->chain, i);
		/* The intermediates only: a root adds nothing a verifier uses. */
		if (X509_cmp(c, id->cert) != 0 && X509_check_issued(c, c) != X509_V_OK)
			add_der_cert(b, c);
	}
	csod_buf_lp_end(b, seq);
	if (v3) {
		csod_buf_u32(b, CSOD_APK_V3_MIN_SDK);
		csod_buf_u32(b, CSOD_APK_V3_MAX_SDK);
	}
	seq = csod_buf_lp_begin(b);
	if (!v3) {
		one = csod_buf_lp_begin(b);
		csod_buf_u32(b, CSOD_APK_STRIP_ATTR);
		csod_buf_u32(b, 3);
		csod_buf_lp_end(b, one);
	}
	csod_buf_lp_end(b, seq);
}

static int sign_bytes(EVP_PKEY *key, const unsigned char *data, size_t len, csod_buf *out,
                      csod_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t sig_len = 0;
	unsigned char *sig = NULL;
	int rc = -1;
	if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, NULL, &sig_len, data, len) != 1 || !(sig = malloc(sig_len)) ||
	    EVP_DigestSign(ctx, sig, &sig_len, data, len) != 1) {
		csod_fail_ssl(err, "cannot sign the APK signer data");
	} else {
		csod_buf_add(out, sig, sig_len);
		rc = 0;
	}
	free(sig);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* One scheme's value: a sequence holding our one signer. */
static int build_scheme(csod_buf *b, int v3, uint32_t alg, const unsigned char *digest,
                        const csod_identity *id, csod_error *err)
{
	csod_buf sd = {0}, sig = {0};
	build_signed_data(&sd, v3, alg, digest, id);
	int rc =
	    sd.oom ? csod_fail(err, "out of memory") : sign_bytes(id->key, sd.p, sd.len, &sig, err);
	unsigned char *pub = NULL;
	int pub_len = rc == 0 ? i2d_PUBKEY(X509_get0_pubkey(id->cert), &pub) : 0;
	if (rc == 0 && pub_len <= 0)
		rc = csod_fail_ssl(err, "cannot encode the signer's public key");
	if (rc == 0) {
		size_t signers = csod_buf_lp_begin(b), signer = csod_buf_lp_begin(b);
		size_t m = csod_buf_lp_begin(b);
		csod_buf_add(b, sd.p, sd.len);
		csod_buf_lp_end(b, m);
		if (v3) {
			csod_buf_u32(b, CSOD_APK_V3_MIN_SDK);
			csod_buf_u32(b, CSOD_APK_V3_MAX_SDK);
		}
		size_t seq = csod_buf_lp_begin(b), one = csod_buf_lp_begin(b);
		csod_buf_u32(b, alg);
		m = csod_buf_lp_begin(b);
		csod_buf_add(b, sig.p, sig.len);
		csod_buf_lp_end(b, m);
		csod_buf_lp_end(b, one);
		csod_buf_lp_end(b, seq);
		m = csod_buf_lp_begin(b);
		csod_buf_add(b, pub, (size_t)pub_len);
		csod_buf_lp_end(b, m);
		csod_buf_lp_end(b, signer);
		csod_buf_lp_end(b, signers);
		if (b->oom)
			rc = csod_fail(err, "out of memory");
	}
	OPENSSL_free(pub);
	csod_buf_free(&sd);
	csod_buf_free(&sig);
	return rc;
}

/* The v3 scheme, built on its own thread. */
struct scheme_job {
	uint32_t alg;
	const unsigned char *digest;
	const csod_identity *id;
	csod_buf out;
	csod_error err;
	int rc;
};

static void *build_v3(void *arg)
{
	struct scheme_job *j = arg;
	j->rc = build_scheme(&j->out, 1, j->alg, j->digest, j->id, &j->err);
	return NULL;
}

int csod_apk_build_block(const unsigned char digest[CSOD_APK_SHA256_BYTES], const csod_identity *id,
                         csod_buf *block, csod_error *err)
{
	uint32_t alg = csod_apk_sig_alg(id->key);
	if (!alg)
		return csod_fail(err, "the signing key type cannot sign APKs (RSA or EC)");
	csod_buf v2 = {0};
	/* The v2 and v3 signatures are independent: v3's is made on a second
	 * thread meanwhile (one RSA-3072 signature is ~2 ms; a token's key
	 * serialises its own operations). Inline if no thread can start. */
	struct scheme_job v3 = {.alg = alg, .digest = digest, .id = id};
	pthread_t thread;
	int threaded = pthread_create(&thread, NULL, build_v3, &v3) == 0;
	int rc = build_scheme(&v2, 0, alg, digest, id, err);
	if (threaded)
		pthread_join(thread, NULL);
	else
		build_v3(&v3);
	if (rc == 0 && v3.rc < 0) {
		*err = v3.err;
		rc = -1;
	}
	if (rc == 0) {
		/* size excludes its own first copy: pairs + second size + magic */
		uint64_t size = (8 + 4 + v2.len) + (8 + 4 + v3.out.len) + 8 + 16;
		csod_buf_u64(block, size);
		csod_buf_u64(block, 4 + v2.len);
		csod_buf_u32(block, CSOD_APK_V2_ID);
		csod_buf_add(block, v2.p, v2.len);
		csod_buf_u64(block, 4 + v3.out.len);
		csod_buf_u32(block, CSOD_APK_V3_ID);
		csod_buf_add(block, v3.out.p, v3.out.len);
		csod_buf_u64(block, size);
		csod_buf_add(block, APK_SIG_MAGIC, 16);
		if (block->oom)
			rc = csod_fail(err, "out of memory");
	}
	csod_buf_free(&v2);
	csod_buf_free(&v3.out);
	return rc;
}
