/* The catalog engine on a catalog built here from the CTL structure (with
 * OpenSSL's ASN1_generate_nconf): what the parser accepts and refuses,
 * signing, re-signing and nesting, and that csod's own verifier catches a
 * changed member hash, a changed trust list and a foreign signer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/conf.h>
#include <openssl/pkcs7.h>

#include "../../signers/authenticode/cat_format.h"
#include "../../signers/signer.h"
#include "signing_fixture.h"

extern const csod_signer csod_signer_cat;

#define MEMBER_HASH "F572D396FAE9206628714FB2CE00F72E94F2258F"

/* One member (its SHA-1 as tag and in an SpcIndirectDataContent), as
 * makecat writes them. */
static const char ctl_conf[] =
    "[ctl]\n"
    "usage = SEQUENCE:usage\n"
    "id = FORMAT:HEX,OCTETSTRING:00112233445566778899AABBCCDDEEFF\n"
    "time = UTCTIME:261202000000Z\n"
    "alg = SEQUENCE:alg\n"
    "members = SEQUENCE:members\n"
    "[usage]\no = OID:1.3.6.1.4.1.311.12.1.1\n"
    "[alg]\no = OID:1.3.6.1.4.1.311.12.1.2\nn = NULL\n"
    "[members]\nm = SEQUENCE:member\n"
    "[member]\ntag = OCTETSTRING:F572D396\nattrs = SET:attrs\n"
    "[attrs]\na = SEQUENCE:indirect_attr\n"
    "[indirect_attr]\no = OID:1.3.6.1.4.1.311.2.1.4\nv = SET:indirect_set\n"
    "[indirect_set]\nv = SEQUENCE:indirect\n"
    "[indirect]\ntype = SEQUENCE:cab_data\ndigest = SEQUENCE:digest\n"
    "[cab_data]\no = OID:1.3.6.1.4.1.311.2.1.25\n"
    "[digest]\nalg = SEQUENCE:sha1\nhash = FORMAT:HEX,OCTETSTRING:" MEMBER_HASH "\n"
    "[sha1]\no = OID:sha1\nn = NULL\n";

/* An unsigned catalog: SignedData, no signers, the CTL as content. */
static size_t make_cat(unsigned char **out)
{
	BIO *bio = BIO_new_mem_buf(ctl_conf, -1);
	CONF *conf = NCONF_new(NULL);
	assert_true(NCONF_load_bio(conf, bio, NULL) > 0);
	ASN1_TYPE *ctl = ASN1_generate_nconf("SEQUENCE:ctl", conf);
	assert_non_null(ctl);
	unsigned char *ctl_der = NULL;
	int ctl_len = i2d_ASN1_TYPE(ctl, &ctl_der);
	assert_true(ctl_len > 0);

	PKCS7 *p7 = PKCS7_new();
	PKCS7 *inner = PKCS7_new();
	ASN1_TYPE *value = ASN1_TYPE_new();
	ASN1_STRING *seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
	assert_true(ASN1_STRING_set(seq, ctl_der, ctl_len));
	ASN1_TYPE_set(value, V_ASN1_SEQUENCE, seq);
	inner->type = OBJ_txt2obj("1.3.6.1.4.1.311.10.1", 1);
	inner->d.other = value;
	assert_true(PKCS7_set_type(p7, NID_pkcs7_signed));
	assert_true(PKCS7_set_content(p7, inner));
	int len = i2d_PKCS7(p7, out);
	assert_true(len > 0);
	PKCS7_free(p7);
	OPENSSL_free(ctl_der);
	ASN1_TYPE_free(ctl);
	NCONF_free(conf);
	BIO_free(bio);
	return (size_t)len;
}

static const char *parse_error(const unsigned char *c, size_t len)
{
	static csod_error err;
	csod_cat cat;
	if (csod_cat_parse_buffer(c, len, &cat, &err) == 0) {
		csod_cat_free(&cat);
		return NULL;
	}
	return err.msg;
}

static unsigned char *find(unsigned char *buf, size_t len, const unsigned char *what, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(buf + i, what, n) == 0)
			return buf + i;
	return NULL;
}

static void test_parses_an_unsigned_catalog(void **state)
{
	(void)state;
	unsigned char *c = NULL;
	size_t len = make_cat(&c);
	csod_cat cat;
	csod_error err;
	assert_true(csod_cat_sniff(c, len));
	assert_int_equal(csod_cat_parse_buffer(c, len, &cat, &err), 0);
	assert_int_equal(cat.n_members, 1);
	assert_int_equal(cat.n_signers, 0);
	assert_true(cat.ctl_len > 100 && cat.ctl[0] == 0x30);
	csod_cat_free(&cat);
	OPENSSL_free(c);
}

static void test_refusals(void **state)
{
	(void)state;
	unsigned char *c = NULL;
	size_t len = make_cat(&c);
	unsigned char *more = malloc(len + 1);
	memcpy(more, c, len);
	more[len] = 0;
	assert_string_equal(parse_error(more, len + 1),
	                    "1 bytes follow the catalog's PKCS#7 structure");
	assert_string_equal(parse_error(c, len - 1),
	                    "not a security catalog (not a DER PKCS#7 structure)");
	/* The CTL's first field (subjectUsage, a SEQUENCE) made a SET. */
	static const unsigned char usage[] = {0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x0c};
	unsigned char *u = find(c, len, usage, sizeof usage);
	assert_non_null(u);
	u[-3] = 0x31;
	assert_true(csod_cat_sniff(c, len)); /* the opening is still a catalog's */
	assert_string_equal(parse_error(c, len),
	                    "the catalog's certificate trust list does not parse");
	/* Another content type (the CTL OID's last arc changed). */
	u[-3] = 0x30;
	static const unsigned char ctl_oid[] = {0x2b, 0x06, 0x01, 0x04, 0x01,
	                                        0x82, 0x37, 0x0a, 0x01};
	unsigned char *o = find(c, len, ctl_oid, sizeof ctl_oid);
	o[8] = 0x02;
	assert_false(csod_cat_sniff(c, len));
	assert_non_null(strstr(parse_error(c, len), "its signed content is 1.3.6.1.4.1.311.10.2"));
	/* Plain data, not SignedData. */
	static const unsigned char data[] = {0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48,
	                                     0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
	assert_string_equal(parse_error(data, sizeof data),
	                    "not a security catalog (a PKCS#7 structure, but not SignedData)");
	free(more);
	OPENSSL_free(c);
}

static void sign(int in, int out, test_signer *t, int nest, const char *digest)
{
	csod_identity id = {t->key, t->cert, NULL};
	csod_sign_options opt = {.append = nest, .n_digests = 1, .digests = {digest}};
	csod_error err;
	assert_int_equal(ftruncate(out, 0), 0);
	int rc = csod_signer_cat.sign(in, out, &id, &opt, &err);
	if (rc < 0)
		fail_msg("%s", err.msg);
}

static size_t read_back(int fd, unsigned char **buf)
{
	off_t size = lseek(fd, 0, SEEK_END);
	*buf = malloc((size_t)size);
	assert_int_equal(pread(fd, *buf, (size_t)size, 0), size);
	return (size_t)size;
}

static void test_sign_resign_nest(void **state)
{
	(void)state;
	test_signer a = test_signer_new("catalog signer"), b = test_signer_new("other signer");
	unsigned char *c = NULL, *s = NULL;
	size_t len = make_cat(&c);
	int in = file_with(c, len), out = file_with(c, 0), out2 = file_with(c, 0);
	csod_error err;
	sign(in, out, &a, 0, "sha256");
	if (csod_signer_cat.verify(in, out, a.trust, &err) < 0)
		fail_msg("%s", err.msg);
	/* Not by a root in trust. */
	assert_int_equal(csod_signer_cat.verify(in, out, b.trust, &err), -1);
	assert_non_null(strstr(err.msg, "does not chain"));

	/* Re-signing replaces the signer: one signer, b's, verifies under b. */
	sign(out, out2, &b, 0, "sha384");
	assert_int_equal(csod_signer_cat.verify(in, out2, b.trust, &err), 0);
	assert_int_equal(csod_signer_cat.verify(in, out2, a.trust, &err), -1);
	csod_cat cat;
	size_t n = read_back(out2, &s);
	assert_int_equal(csod_cat_parse_buffer(s, n, &cat, &err), 0);
	assert_int_equal(cat.n_signers, 1);
	csod_cat_free(&cat);
	free(s);

	/* --nest keeps a's signature and adds b's: both trust stores accept it. */
	sign(out, out2, &b, 1, "sha512");
	assert_int_equal(csod_signer_cat.verify(in, out2, a.trust, &err), 0);
	assert_int_equal(csod_signer_cat.verify(in, out2, b.trust, &err), 0);
	n = read_back(out2, &s);
	static const unsigned char nested_oid[] = {0x2b, 0x06, 0x01, 0x04, 0x01,
	                                           0x82, 0x37, 0x02, 0x04, 0x01};
	assert_non_null(find(s, n, nested_oid, sizeof nested_oid));
	free(s);

	/* A second signer beside a's: --nest has no one signer to nest into,
	 * refused at intake (check_options) and by sign() alike. */
	n = read_back(out, &s);
	const unsigned char *p = s;
	PKCS7 *two = d2i_PKCS7(NULL, &p, (long)n);
	assert_non_null(PKCS7_add_signature(two, b.cert, b.key, EVP_sha256()));
	unsigned char *der = NULL;
	int der_len = i2d_PKCS7(two, &der);
	int in2 = file_with(der, (size_t)der_len);
	csod_sign_options nest = {.append = 1};
	assert_int_equal(csod_signer_cat.check_options(in2, &nest, &err), -1);
	assert_string_equal(err.msg, "the catalog has 2 signers; a nested signature goes into one");
	nest.append = 0;
	assert_int_equal(csod_signer_cat.check_options(in2, &nest, &err), 0);
	csod_identity id = {b.key, b.cert, NULL};
	nest.append = 1;
	assert_int_equal(csod_signer_cat.sign(in2, out2, &id, &nest, &err), -1);
	close(in2);
	OPENSSL_free(der);
	PKCS7_free(two);
	free(s);
	close(in);
	close(out);
	close(out2);
	OPENSSL_free(c);
	test_signer_free(&a);
	test_signer_free(&b);
}

static void test_tampering(void **state)
{
	(void)state;
	test_signer a = test_signer_new("catalog signer");
	unsigned char *c = NULL, *s = NULL;
	size_t len = make_cat(&c);
	int in = file_with(c, len), out = file_with(c, 0);
	csod_error err;
	sign(in, out, &a, 0, "sha256");
	size_t n = read_back(out, &s);
	static const unsigned char hash[] = {0xf5, 0x72, 0xd3, 0x96, 0xfa, 0xe9, 0x20};
	unsigned char *h = find(s, n, hash, sizeof hash);
	assert_non_null(h);
	h[1] ^= 1;
	int bad = file_with(s, n);
	/* Against the original input: the trust list is not the input's. */
	assert_int_equal(csod_signer_cat.verify(in, bad, a.trust, &err), -1);
	assert_string_equal(err.msg, "the signed catalog's trust list differs from the input's");
	/* Against an input changed the same way: the signature no longer covers it. */
	unsigned char *hc = find(c, len, hash, sizeof hash);
	hc[1] ^= 1;
	int in2 = file_with(c, len);
	assert_int_equal(csod_signer_cat.verify(in2, bad, a.trust, &err), -1);
	assert_string_equal(err.msg, "the signed messageDigest does not cover the signed content");
	close(in);
	close(in2);
	close(out);
	close(bad);
	free(s);
	OPENSSL_free(c);
	test_signer_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parses_an_unsigned_catalog),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_sign_resign_nest),
	    cmocka_unit_test(test_tampering),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
