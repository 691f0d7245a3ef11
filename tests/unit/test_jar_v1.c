/* Unit tests for the JAR self-check's judgement of entries (v1_verify.c):
 * an entry counts as signed only as jarsigner counts it, by a trusted
 * signer whose .SF names its manifest section and covers a digest of it in
 * the .SF's own algorithm or in SHA-256 or stronger. Each archive is built
 * here: one entry, a manifest section with the given digests, a .SF and a
 * PKCS#7 block by a test signer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <openssl/pkcs7.h>

#include "../../signers/java/manifest.h"
#include "../../signers/java/v1.h"
#include "../../signers/java/zip_write.h"
#include "signing_fixture.h"

static const char content[] = "hello from csod\n";

static void emit_digest(csod_buf *out, const EVP_MD *md, const char *suffix, const void *data,
                        size_t len)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;
	char attr[64], b64[2 * EVP_MAX_MD_SIZE];
	EVP_Digest(data, len, d, &dl, md, NULL);
	csod_v1_b64(d, dl, b64);
	snprintf(attr, sizeof attr, "%s-Digest%s", csod_v1_md_attr_name(md), suffix);
	csod_mf_emit_line(out, attr, b64);
}

static void add_entry(csod_zip_out *o, const char *name, const csod_buf *b)
{
	csod_error err;
	assert_int_equal(csod_zip_out_add(o, name, b->p, b->len, 1, &err), 0);
}

/* An archive with a.txt, whose manifest section carries one digest per
 * mf_mds, signed by t with a .SF that digests the whole manifest with
 * sf_md and, when listed, names the section with its sf_md digest. */
static int archive(const test_signer *t, const EVP_MD *const *mf_mds, int n, const EVP_MD *sf_md,
                   int listed)
{
	csod_buf mf = {0}, section = {0}, sf = {0}, block = {0}, data = {0}, eocd = {0};
	csod_mf_emit_line(&mf, "Manifest-Version", "1.0");
	csod_buf_add(&mf, "\r\n", 2);
	csod_mf_emit_line(&section, "Name", "a.txt");
	for (int i = 0; i < n; i++)
		emit_digest(&section, mf_mds[i], "", content, strlen(content));
	csod_buf_add(&section, "\r\n", 2);
	csod_buf_add(&mf, section.p, section.len);
	csod_mf_emit_line(&sf, "Signature-Version", "1.0");
	emit_digest(&sf, sf_md, "-Manifest", mf.p, mf.len);
	csod_buf_add(&sf, "\r\n", 2);
	if (listed) {
		csod_mf_emit_line(&sf, "Name", "a.txt");
		emit_digest(&sf, sf_md, "", section.p, section.len);
		csod_buf_add(&sf, "\r\n", 2);
	}
	BIO *in = BIO_new_mem_buf(sf.p, (int)sf.len);
	PKCS7 *p7 = PKCS7_sign(t->cert, t->key, NULL, in,
	                       PKCS7_DETACHED | PKCS7_BINARY | PKCS7_NOATTR | PKCS7_NOSMIMECAP);
	assert_non_null(p7);
	unsigned char *der = NULL;
	int der_len = i2d_PKCS7(p7, &der);
	assert_true(der_len > 0);
	csod_buf_add(&block, der, (size_t)der_len);
	csod_buf_add(&data, content, strlen(content));

	int fd = memfd_create("jar", 0);
	csod_zip_out o;
	csod_error err;
	csod_zip_out_init(&o, fd);
	add_entry(&o, "META-INF/MANIFEST.MF", &mf);
	add_entry(&o, "META-INF/T.SF", &sf);
	add_entry(&o, "META-INF/T.EC", &block);
	add_entry(&o, "a.txt", &data);
	uint64_t cd = o.pos;
	assert_int_equal(csod_zip_out_write(&o, o.cd.p, o.cd.len, &err), 0);
	csod_zip_out_eocd(&o, cd, NULL, 0, &eocd);
	assert_int_equal(csod_zip_out_write(&o, eocd.p, eocd.len, &err), 0);
	csod_zip_out_free(&o);
	OPENSSL_free(der);
	PKCS7_free(p7);
	BIO_free(in);
	csod_buf_free(&mf);
	csod_buf_free(&section);
	csod_buf_free(&sf);
	csod_buf_free(&block);
	csod_buf_free(&data);
	csod_buf_free(&eocd);
	return fd;
}

/* csod_v1_verify of such an archive; err gets the reason. */
static int judge(const test_signer *t, const EVP_MD *const *mf_mds, int n, const EVP_MD *sf_md,
                 int listed, csod_error *err)
{
	int fd = archive(t, mf_mds, n, sf_md, listed);
	csod_zip z;
	assert_int_equal(csod_zip_open(&z, fd, "t.jar", err), 0);
	int rc = csod_v1_verify(&z, t->trust, 0, err);
	csod_zip_close(&z);
	close(fd);
	return rc;
}

static void test_sha1_entry_under_sha256_signer(void **state)
{
	(void)state;
	test_signer t = test_signer_new("csod jar test");
	csod_error err;
	const EVP_MD *sha1[] = {EVP_sha1()};
	/* What csod used to publish when nesting onto a SHA-1 jar: JDK 17
	 * finds every entry unsigned (jarsigner -strict exits 16). */
	assert_int_equal(judge(&t, sha1, 1, EVP_sha256(), 1, &err), -1);
	assert_non_null(strstr(err.msg, "entry 'a.txt' is not signed by a trusted signer"));
	/* With our SHA-256 digest beside the SHA-1 one, it is signed. */
	const EVP_MD *both[] = {EVP_sha1(), EVP_sha256()};
	assert_int_equal(judge(&t, both, 2, EVP_sha256(), 1, &err), 0);
	/* A signer that uses SHA-1 itself (asked for, for old verifiers). */
	assert_int_equal(judge(&t, sha1, 1, EVP_sha1(), 1, &err), 0);
	test_signer_free(&t);
}

static void test_strong_entry_digest(void **state)
{
	(void)state;
	test_signer t = test_signer_new("csod jar test");
	csod_error err;
	/* A SHA-512 signer beside a SHA-256 manifest: the JDK accepts it. */
	const EVP_MD *sha256[] = {EVP_sha256()};
	assert_int_equal(judge(&t, sha256, 1, EVP_sha512(), 1, &err), 0);
	assert_int_equal(judge(&t, sha256, 1, EVP_sha256(), 1, &err), 0);
	test_signer_free(&t);
}

static void test_section_not_named(void **state)
{
	(void)state;
	test_signer t = test_signer_new("csod jar test");
	csod_error err;
	/* The whole-manifest digest matches, but the .SF does not name the
	 * entry's section: the JDK signs only the sections a .SF names. */
	const EVP_MD *sha256[] = {EVP_sha256()};
	assert_int_equal(judge(&t, sha256, 1, EVP_sha256(), 0, &err), -1);
	assert_non_null(strstr(err.msg, "not signed by a trusted signer"));
	test_signer_free(&t);
}

static void test_untrusted_signer(void **state)
{
	(void)state;
	test_signer t = test_signer_new("csod jar test"), other = test_signer_new("other");
	csod_error err;
	const EVP_MD *sha256[] = {EVP_sha256()};
	int fd = archive(&t, sha256, 1, EVP_sha256(), 1);
	csod_zip z;
	assert_int_equal(csod_zip_open(&z, fd, "t.jar", &err), 0);
	assert_int_equal(csod_v1_verify(&z, other.trust, 0, &err), -1);
	assert_non_null(strstr(err.msg, "does not chain"));
	csod_zip_close(&z);
	close(fd);
	test_signer_free(&t);
	test_signer_free(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sha1_entry_under_sha256_signer),
	    cmocka_unit_test(test_strong_entry_digest),
	    cmocka_unit_test(test_section_not_named),
	    cmocka_unit_test(test_untrusted_signer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
