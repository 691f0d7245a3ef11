/* The input of hash signing: every accepted form, every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../signers/hash/digest_parse.h"

#define SHA256_HEX "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define SHA1_HEX   "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
#define MD5_HEX    "098f6bcd4621d373cade4e832627b4f6"

static int parse(const char *text, const char *name, csod_parsed_digest *d, csod_error *err)
{
	return csod_digest_parse(text, strlen(text), name, d, err);
}

static void test_bare_hex(void **state)
{
	(void)state;
	csod_parsed_digest d;
	assert_int_equal(parse(SHA256_HEX "\n", "x.sha256", &d, NULL), 0);
	assert_string_equal(d.algorithm, "sha256");
	assert_int_equal(d.len, 32);
	assert_int_equal(d.value[0], 0x9f);
	assert_int_equal(d.value[31], 0x08);
}

static void test_sum_formats(void **state)
{
	(void)state;
	csod_parsed_digest d;
	assert_int_equal(parse(SHA256_HEX "  app.exe\n", "app.exe.sha256", &d, NULL), 0);
	assert_int_equal(parse(SHA256_HEX " *app.exe\n", NULL, &d, NULL), 0);
	assert_int_equal(parse("SHA256 (app.exe) = " SHA256_HEX "\n", NULL, &d, NULL), 0);
	assert_string_equal(d.algorithm, "sha256");
	assert_int_equal(parse(MD5_HEX "  f\n", "f.md5", &d, NULL), 0);
	assert_string_equal(d.algorithm, "md5");
	assert_int_equal(parse("\n\n" SHA1_HEX "\n\n", "f.txt", &d, NULL), 0);
	assert_string_equal(d.algorithm, "sha1");
	/* md5sum --tag, and the vendor manual's own ".sha" example. */
	assert_int_equal(parse("MD5 (f) = " MD5_HEX "\n", "f.txt", &d, NULL), 0);
	assert_string_equal(d.algorithm, "md5");
	assert_int_equal(parse(SHA256_HEX "  app.exe\n", "app.sha", &d, NULL), 0);
	assert_string_equal(d.algorithm, "sha256");
	assert_int_equal(parse("SHA-256 (a b.exe) = " SHA256_HEX, "x.sha", &d, NULL), 0);
}

static void test_length_picks_the_algorithm(void **state)
{
	(void)state;
	csod_parsed_digest d;
	char hex[129];
	memset(hex, 'a', 128);
	hex[128] = '\0';
	assert_int_equal(parse(hex, "x.txt", &d, NULL), 0);
	assert_string_equal(d.algorithm, "sha512");
	hex[96] = '\0';
	assert_int_equal(parse(hex, NULL, &d, NULL), 0);
	assert_string_equal(d.algorithm, "sha384");
}

static void expect_refusal(const char *text, size_t len, const char *name, const char *words)
{
	csod_parsed_digest d;
	csod_error err = {.msg = ""};
	assert_int_equal(csod_digest_parse(text, len, name, &d, &err), -1);
	if (!strstr(err.msg, words))
		fail_msg("'%s' does not say '%s'", err.msg, words);
}

static void test_refusals(void **state)
{
	(void)state;
	expect_refusal("", 0, "e.sha256", "e.sha256: is empty");
	expect_refusal(SHA1_HEX, strlen(SHA1_HEX), "x.sha256", "which is sha1, not sha256");
	expect_refusal("xyz", 3, "x.sha256", "'x' is not a hexadecimal digit");
	expect_refusal("  \n", 3, "x.sha256", "no hexadecimal digest");
	expect_refusal(SHA256_HEX "g", strlen(SHA256_HEX) + 1, NULL, "'g' is not a hexadecimal");
	expect_refusal("abc", 3, NULL, "a 3-digit digest");
	expect_refusal(SHA256_HEX "\n" SHA256_HEX "\n", 2 * strlen(SHA256_HEX) + 2, NULL,
	               "more than one line");
	expect_refusal("\n" SHA256_HEX "\n\nsecond\n", strlen(SHA256_HEX) + 10, "m.sha",
	               "m.sha: line 4: holds more than one line");
	expect_refusal("SHA1 (f) = " SHA256_HEX, strlen(SHA256_HEX) + 11, "f.sha",
	               "says SHA1 but holds a 64-digit digest, which is sha256");
	expect_refusal("ab\0cd", 5, NULL, "not text");
	char big[CSOD_DIGEST_FILE_MAX + 2];
	memset(big, 'a', sizeof big);
	expect_refusal(big, sizeof big, "big.txt", "larger than");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bare_hex),
	    cmocka_unit_test(test_sum_formats),
	    cmocka_unit_test(test_length_picks_the_algorithm),
	    cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
