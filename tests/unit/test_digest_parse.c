/* The input of hash signing: every accepted form, every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
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
	               "line 1: names no file, and the file holds more than one digest");
	expect_refusal("\n" SHA256_HEX "  a\n\nsecond\n", strlen(SHA256_HEX) + 13, "m.sha",
	               "m.sha: line 4: 's' is not a hexadecimal digit");
	/* A valid list is not one digest: csod_digest_list takes it. */
	expect_refusal(SHA256_HEX "  a\n" SHA1_HEX "  b\n",
	               strlen(SHA256_HEX) + strlen(SHA1_HEX) + 8, NULL, "lists 2 files");
	expect_refusal("SHA1 (f) = " SHA256_HEX, strlen(SHA256_HEX) + 11, "f.sha",
	               "says SHA1 but holds a 64-digit digest, which is sha256");
	expect_refusal("ab\0cd", 5, NULL, "not text");
	char big[CSOD_DIGEST_FILE_MAX + 2];
	memset(big, 'a', sizeof big);
	expect_refusal(big, sizeof big, "big.txt", "larger than");
}

static int list(const char *text, const char *name, csod_digest_line **lines, int *n,
                csod_error *err)
{
	return csod_digest_list(text, strlen(text), name, lines, n, err);
}

static void test_list(void **state)
{
	(void)state;
	csod_digest_line *l = NULL;
	int n = -1;
	const char *text =
	    SHA256_HEX "  app.exe\n"
	               "\n"
	               "SHA1 (a (b) = c.msi) = " SHA1_HEX "\r\n" MD5_HEX " *setup tool.cab\n";
	assert_int_equal(list(text, "SUMS", &l, &n, NULL), 0);
	assert_int_equal(n, 3);
	assert_string_equal(l[0].digest.file, "app.exe");
	assert_string_equal(l[0].digest.algorithm, "sha256");
	assert_int_equal(l[0].line, 1);
	assert_string_equal(l[1].digest.file, "a (b) = c.msi");
	assert_string_equal(l[1].digest.algorithm, "sha1");
	assert_int_equal(l[1].line, 3);
	assert_string_equal(l[2].digest.file, "setup tool.cab");
	assert_string_equal(l[2].digest.algorithm, "md5");
	assert_int_equal(l[2].len, strlen(MD5_HEX " *setup tool.cab"));
	free(l);
	/* One line (or none) is no list: csod_digest_parse's. */
	assert_int_equal(list("\n" SHA256_HEX "  app.exe\n\n", NULL, &l, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_null(l);
}

static void expect_list_refusal(const char *text, const char *name, const char *words)
{
	csod_digest_line *l = NULL;
	int n = 0;
	csod_error err = {.msg = ""};
	assert_int_equal(list(text, name, &l, &n, &err), -1);
	assert_null(l);
	if (!strstr(err.msg, words))
		fail_msg("'%s' does not say '%s'", err.msg, words);
}

static void test_list_refusals(void **state)
{
	(void)state;
	expect_list_refusal(SHA256_HEX "  a\n" SHA256_HEX "\n", "S", "S: line 2: names no file");
	expect_list_refusal(SHA256_HEX "  a\n" SHA256_HEX "  dist/b\n", "S",
	                    "S: line 2: names a path (dist/b)");
	expect_list_refusal(SHA256_HEX "  ..\n" SHA256_HEX "  b\n", "S",
	                    "S: line 1: names '..', which is no file");
	expect_list_refusal(SHA256_HEX "  a\001b\n" SHA256_HEX "  b\n", "S",
	                    "S: line 1: the file name a\\x01b holds a control character");
	expect_list_refusal(SHA256_HEX "  a\n" SHA256_HEX "  b\n" SHA256_HEX "  a\n", "S",
	                    "S: line 3: names a again (line 1)");
	expect_list_refusal(SHA256_HEX "  a\n\\" SHA256_HEX "  b\\\\c\n", "S",
	                    "S: line 2: an escaped file name");
	expect_list_refusal(SHA256_HEX "  a\n" SHA1_HEX "  b\n", "x.sha256",
	                    "x.sha256: line 2: holds a 40-digit digest, which is sha1, not sha256");
	char longname[400];
	snprintf(longname, sizeof longname, SHA256_HEX "  %0252d\n" SHA256_HEX "  b\n", 0);
	expect_list_refusal(longname, "S", "S: line 1: the file name is longer than 251 bytes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bare_hex),
	    cmocka_unit_test(test_sum_formats),
	    cmocka_unit_test(test_length_picks_the_algorithm),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_list),
	    cmocka_unit_test(test_list_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
