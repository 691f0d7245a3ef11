/* Detached Authenticode signatures (signers/authenticode/detached.c): what
 * is taken out of a file (the PKCS#7 without the padding after it) and
 * what may be attached (one SignedData in DER, nothing after it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "../../signers/authenticode/detached.h"
#include "signing_fixture.h"

/* A PKCS#7 SignedData over a few bytes, DER, in *der. */
static int signed_data(unsigned char **der)
{
	test_signer t = test_signer_new("detached test");
	BIO *in = BIO_new_mem_buf("content", 7);
	PKCS7 *p7 = PKCS7_sign(t.cert, t.key, NULL, in, PKCS7_BINARY);
	assert_non_null(p7);
	*der = NULL;
	int n = i2d_PKCS7(p7, der);
	assert_true(n > 0);
	PKCS7_free(p7);
	BIO_free(in);
	test_signer_free(&t);
	return n;
}

static void test_take_drops_padding(void **state)
{
	(void)state;
	unsigned char *der, *got = NULL;
	int n = signed_data(&der);
	unsigned char *padded = calloc(1, (size_t)n + 7);
	memcpy(padded, der, (size_t)n);
	size_t len = 0;
	csod_error err;
	assert_int_equal(csod_detached_take(padded, (size_t)n + 7, &got, &len, &err), 0);
	assert_int_equal(len, (size_t)n);
	assert_memory_equal(got, der, len);
	assert_int_equal(csod_detached_check(got, len, &err), 0);
	free(got);
	free(padded);
	OPENSSL_free(der);
}

static void test_refusals(void **state)
{
	(void)state;
	unsigned char *der, *got = NULL;
	int n = signed_data(&der);
	csod_error err;
	size_t len;
	/* Trailing bytes after the signature. */
	unsigned char *more = malloc((size_t)n + 1);
	memcpy(more, der, (size_t)n);
	more[n] = 0;
	assert_int_equal(csod_detached_check(more, (size_t)n + 1, &err), -1);
	assert_string_equal(err.msg, "1 bytes follow the PKCS#7 signature");
	/* Cut short. */
	assert_int_equal(csod_detached_check(der, (size_t)n - 1, &err), -1);
	assert_string_equal(err.msg, "not a DER-encoded PKCS#7 signature");
	assert_int_equal(csod_detached_take(der, (size_t)n - 1, &got, &len, &err), -1);
	assert_null(got);
	/* Not PKCS#7 at all, and empty. */
	static const unsigned char text[] = "not a signature";
	assert_int_equal(csod_detached_check(text, sizeof text - 1, &err), -1);
	assert_string_equal(err.msg, "not a DER-encoded PKCS#7 signature");
	assert_int_equal(csod_detached_check(text, 0, &err), -1);
	/* A PKCS#7 that is not SignedData. */
	PKCS7 *data = PKCS7_new();
	PKCS7_set_type(data, NID_pkcs7_data);
	unsigned char *dder = NULL;
	int dn = i2d_PKCS7(data, &dder);
	assert_true(dn > 0);
	assert_int_equal(csod_detached_check(dder, (size_t)dn, &err), -1);
	assert_string_equal(err.msg, "the PKCS#7 is not SignedData");
	OPENSSL_free(dder);
	PKCS7_free(data);
	free(more);
	OPENSSL_free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_take_drops_padding),
	    cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
