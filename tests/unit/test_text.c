/* Text from outside on its way to people: UTF-8 checks, escaping, and the
 * names intake refuses (issue 12, items 4, 9, 10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../daemon/names.h"
#include "../../lib/text.h"
#include "../../signers/signer.h"

extern const csod_signer csod_signer_hash;
extern const csod_signer csod_signer_pe;

static int valid(const char *s)
{
	return csod_utf8_valid(s, strlen(s));
}

static void test_utf8_strict(void **state)
{
	(void)state;
	assert_true(valid(""));
	assert_true(valid("plain.exe"));
	assert_true(valid("caf\xc3\xa9"));        /* é */
	assert_true(valid("\xe2\x82\xac"));       /* € */
	assert_true(valid("\xf0\x9f\x94\x91"));   /* U+1F511 */
	assert_true(valid("\xf4\x8f\xbf\xbf"));   /* U+10FFFF */
	assert_false(valid("bad\xff.sha256"));    /* never in UTF-8 */
	assert_false(valid("\x80"));              /* lone continuation */
	assert_false(valid("\xc0\x80"));          /* overlong NUL */
	assert_false(valid("\xc1\xbf"));          /* overlong */
	assert_false(valid("\xe0\x80\x80"));      /* overlong */
	assert_false(valid("\xed\xa0\x80"));      /* surrogate U+D800 */
	assert_false(valid("\xf0\x80\x80\x80"));  /* overlong */
	assert_false(valid("\xf4\x90\x80\x80"));  /* above U+10FFFF */
	assert_false(valid("\xe2\x82"));          /* cut short */
	assert_false(csod_utf8_valid("a\0b", 3)); /* NUL inside */
}

static void expect_escaped(const char *in, const char *want)
{
	char *got = csod_escape(in);
	assert_non_null(got);
	assert_string_equal(got, want);
	char buf[256];
	assert_string_equal(csod_escape_to(in, buf, sizeof buf), want);
	free(got);
}

static void test_escape(void **state)
{
	(void)state;
	expect_escaped("app.exe", "app.exe");
	expect_escaped("caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"); /* kept */
	expect_escaped("a\nb", "a\\nb");
	expect_escaped("a\r\nBcc: x@y", "a\\r\\nBcc: x@y");
	expect_escaped("\t", "\\t");
	expect_escaped("\x1b[31mred", "\\x1b[31mred");
	expect_escaped("\x1b]0;title\x07", "\\x1b]0;title\\x07");
	expect_escaped("del\x7f", "del\\x7f");
	expect_escaped("bad\xff.sha256", "bad\\xff.sha256");
	expect_escaped("\xe2\x82", "\\xe2\\x82"); /* a cut sequence, byte by byte */
	expect_escaped("back\\slash", "back\\slash");
	char *lines = csod_escape_lines("one\ntwo\x1b\n");
	assert_string_equal(lines, "one\ntwo\\x1b\n");
	free(lines);
}

static void test_escape_cut(void **state)
{
	(void)state;
	char buf[8];
	/* Fits exactly: no "...". */
	assert_string_equal(csod_escape_to("1234567", buf, sizeof buf), "1234567");
	/* Does not fit: cut at an escape's edge, "..." at the end. */
	assert_string_equal(csod_escape_to("12345678", buf, sizeof buf), "1234...");
	assert_string_equal(csod_escape_to("12\x1b\x1b", buf, sizeof buf), "12...");
	char tiny[3];
	assert_true(strlen(csod_escape_to("abcdef", tiny, sizeof tiny)) < sizeof tiny);
}

static void test_text_problem(void **state)
{
	(void)state;
	assert_null(csod_text_problem("1.2.3 caf\xc3\xa9"));
	assert_string_equal(csod_text_problem("1.\xff"), "is not valid UTF-8");
	assert_string_equal(csod_text_problem("1.0\n"), "holds a control character");
	assert_string_equal(csod_text_problem("\x1b[2J"), "holds a control character");
}

static void test_names_at_intake(void **state)
{
	(void)state;
	csod_error err;
	assert_int_equal(csod_name_check("app.exe", &err), 0);
	assert_int_equal(csod_name_check("bad\xff.sha256", &err), -1);
	assert_string_equal(err.msg, "bad\\xff.sha256: file name is not valid UTF-8");
	assert_int_equal(csod_name_check("a\nb\x1b[2J.exe", &err), -1);
	assert_string_equal(err.msg, "a\\nb\\x1b[2J.exe: file name holds a control character");
	/* The drop's own name is kept escaped, for the failed request's views. */
	char drop[256] = "top\xfe.sha256";
	assert_int_equal(csod_drop_name_check(drop, sizeof drop, &err), -1);
	assert_string_equal(drop, "top\\xfe.sha256");
	assert_true(valid(drop));
}

static void test_output_names(void **state)
{
	(void)state;
	char name[256], out[256];
	csod_error err;
	/* 251 bytes + ".p7s" is 255: fits. */
	memset(name, 'M', 244);
	strcpy(name + 244, ".sha256");
	assert_int_equal(strlen(name), 251);
	assert_int_equal(csod_output_name(&csod_signer_hash, name, out, sizeof out, &err), 0);
	assert_int_equal(strlen(out), 255);
	assert_string_equal(out + 251, ".p7s");
	/* 255 bytes: the signature's name would be cut to the input's own. */
	memset(name, 'L', 248);
	strcpy(name + 248, ".sha256");
	assert_int_equal(csod_output_name(&csod_signer_hash, name, out, sizeof out, &err), -1);
	assert_non_null(strstr(err.msg, "file name is 255 bytes; with .p7s the signed output's "
	                                "name would be over 255 bytes"));
	/* Engines that keep the name take any name that fits. */
	memset(name, 'P', 251);
	strcpy(name + 251, ".exe");
	assert_int_equal(csod_output_name(&csod_signer_pe, name, out, sizeof out, &err), 0);
	assert_string_equal(out, name);
	/* A buffer too small fails rather than cuts. */
	char small[8];
	assert_int_equal(csod_output_name(&csod_signer_hash, "a.sha256", small, sizeof small, &err),
	                 -1);
}

static void expect_html(const char *in, const char *want)
{
	char *out = csod_html_escape(in);
	assert_non_null(out);
	assert_string_equal(out, want);
	free(out);
}

/* The status page shows names developers chose (issue 15). */
static void test_html_escape(void **state)
{
	(void)state;
	expect_html("app.exe", "app.exe");
	expect_html("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;");
	expect_html("\"><script>", "&quot;&gt;&lt;script&gt;");
	expect_html("a&b 'c'", "a&amp;b &#39;c&#39;");
	expect_html("caf\xc3\xa9\n\xff", "caf\xc3\xa9\\n\\xff");
	char *url = csod_url_escape("20261202 app 1.0/x?#%.exe");
	assert_non_null(url);
	assert_string_equal(url, "20261202%20app%201.0%2Fx%3F%23%25.exe");
	free(url);
}

/* Sizes in mail and on the status page: "2 files, 14 MB". */
static void test_size_text(void **state)
{
	(void)state;
	static const struct {
		int64_t bytes;
		const char *text;
	} cases[] = {{0, "0 bytes"},      {999, "999 bytes"},     {1000, "1.0 KB"},
	             {115530, "116 KB"},  {999999, "1.0 MB"},     {1500000, "1.5 MB"},
	             {14000000, "14 MB"}, {1073741824, "1.1 GB"}, {5000000000000, "5.0 TB"}};
	char out[32];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		csod_size_text(cases[i].bytes, out, sizeof out);
		assert_string_equal(out, cases[i].text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utf8_strict),     cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_escape_cut),      cmocka_unit_test(test_text_problem),
	    cmocka_unit_test(test_names_at_intake), cmocka_unit_test(test_output_names),
	    cmocka_unit_test(test_html_escape),     cmocka_unit_test(test_size_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
