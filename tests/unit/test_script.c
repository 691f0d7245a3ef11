/* Script signing (script_format.c, script.c): the hash against values
 * computed outside csod (osslsigncode's for PowerShell; UTF-16LE plus the
 * block's position, by hand, for WSH), the same hash whatever the file's
 * encoding where Windows says so, every refusal, and the engines' own
 * verifier catching a changed character. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../signers/authenticode/script_format.h"
#include "../../signers/signer.h"
#include "signing_fixture.h"

extern const csod_signer csod_signer_powershell;
extern const csod_signer csod_signer_vbscript;
extern const csod_signer csod_signer_wsf;

static const char ps_text[] = "Write-Host \"hello\"\r\n$x = 1\r\n";

static void hex(const unsigned char *p, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02X", p[i]);
}

static void hash_of(csod_script_kind kind, const void *text, size_t len, char *out)
{
	csod_script s;
	csod_error err;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	assert_int_equal(csod_script_parse(&s, kind, text, len, &err), 0);
	assert_int_equal(csod_script_hash(&s, EVP_sha256(), md, &md_len, &err), 0);
	hex(md, md_len, out);
}

/* ASCII text as UTF-16LE, after a BOM when bom. */
static size_t wide(const char *text, int bom, unsigned char *out)
{
	size_t n = 0;
	if (bom) {
		out[n++] = 0xff;
		out[n++] = 0xfe;
	}
	for (const char *c = text; *c; c++) {
		out[n++] = (unsigned char)*c;
		out[n++] = 0;
	}
	return n;
}

static void test_powershell_hash(void **state)
{
	(void)state;
	char a[65], b[65], c[65];
	/* osslsigncode 2.9's "Current message digest" for this script. */
	hash_of(CSOD_SCRIPT_PS, ps_text, strlen(ps_text), a);
	assert_string_equal(a, "7820734AF9CD1F52E2C9E8006B26574A0BC0487B1CDC28325D8D85CBBF0556DF");
	/* A UTF-8 BOM hashes as U+FEFF, as a UTF-16LE file's BOM does. */
	unsigned char u8[64] = {0xef, 0xbb, 0xbf}, u16[128];
	memcpy(u8 + 3, ps_text, strlen(ps_text));
	hash_of(CSOD_SCRIPT_PS, u8, 3 + strlen(ps_text), b);
	hash_of(CSOD_SCRIPT_PS, u16, wide(ps_text, 1, u16), c);
	assert_string_equal(b, c);
	assert_string_not_equal(a, b);
}

static void test_wsh_hash(void **state)
{
	(void)state;
	static const char text[] = "WScript.Echo \"hi\"\r\n";
	unsigned char buf[128];
	size_t n = wide(text, 0, buf);
	uint32_t units = (uint32_t)strlen(text);
	put32(buf + n, units);
	unsigned char md[32];
	char want[65], got[65];
	SHA256(buf, n + 4, md);
	hex(md, 32, want);
	hash_of(CSOD_SCRIPT_VBS, text, strlen(text), got);
	assert_string_equal(got, want);
	/* WSH leaves the BOM out: the same hash in every encoding. */
	unsigned char u8[64] = {0xef, 0xbb, 0xbf}, u16[128];
	memcpy(u8 + 3, text, strlen(text));
	hash_of(CSOD_SCRIPT_VBS, u8, 3 + strlen(text), got);
	assert_string_equal(got, want);
	hash_of(CSOD_SCRIPT_VBS, u16, wide(text, 1, u16), got);
	assert_string_equal(got, want);

	/* A .wsf's position is that of its last </job>. */
	static const char job[] = "<job>\r\n<job>x</job>\r\n</job>\r\n";
	n = wide(job, 0, buf);
	put32(buf + n, (uint32_t)(strstr(job + 10, "</job>\r\n</job>") - job + 8));
	SHA256(buf, n + 4, md);
	hex(md, 32, want);
	hash_of(CSOD_SCRIPT_WSF, job, strlen(job), got);
	assert_string_equal(got, want);
}

static void refused(csod_script_kind kind, const char *text, size_t len, const char *why)
{
	csod_script s;
	csod_error err = {.msg = ""};
	assert_int_equal(csod_script_parse(&s, kind, (const unsigned char *)text, len, &err), -1);
	if (!strstr(err.msg, why))
		fail_msg("'%s' does not say '%s'", err.msg, why);
}

#define REFUSED(kind, text, why) refused(kind, text, sizeof text - 1, why)

static void test_refusals(void **state)
{
	(void)state;
	REFUSED(CSOD_SCRIPT_PS, "ab\0cd", "binary content (a NUL at byte 2)");
	REFUSED(CSOD_SCRIPT_PS, "caf\xe9\r\n", "not valid UTF-8 at byte 3");
	REFUSED(CSOD_SCRIPT_PS, "a\xc0\x80", "not valid UTF-8 at byte 1");         /* overlong */
	REFUSED(CSOD_SCRIPT_PS, "a\xed\xa0\x80", "not valid UTF-8 at byte 1");     /* surrogate */
	REFUSED(CSOD_SCRIPT_PS, "a\xf4\x90\x80\x80", "not valid UTF-8 at byte 1"); /* > U+10FFFF */
	REFUSED(CSOD_SCRIPT_PS, "a\xe2\x82", "not valid UTF-8 at byte 1");         /* cut short */
	REFUSED(CSOD_SCRIPT_PS, "\xff\xfe\x00\xdc", "not valid UTF-16LE at byte 2");
	REFUSED(CSOD_SCRIPT_PS, "\xff\xfe\x00\xd8\x41\x00", "not valid UTF-16LE at byte 2");
	REFUSED(CSOD_SCRIPT_PS, "\xff\xfe\x41", "odd number of bytes");
	REFUSED(CSOD_SCRIPT_PS, "\xfe\xff\x00\x41", "big-endian");
	REFUSED(CSOD_SCRIPT_PS, "", "empty file");
	REFUSED(CSOD_SCRIPT_PSXML, "<a>\xc3\xa9</a>", "non-ASCII text without a byte order mark");
	REFUSED(CSOD_SCRIPT_VBS, "MsgBox \"\xc3\xa9\"", "without a byte order mark");
	REFUSED(CSOD_SCRIPT_WSF, "<job></jab>", "no </job>");
	REFUSED(CSOD_SCRIPT_PS, "x\r\n# SIG # Begin signature block\r\n# QUJD\r\n", "no end line");
	REFUSED(CSOD_SCRIPT_PS,
	        "x\r\n# SIG # Begin signature block\r\n# QU JD\r\n# SIG # End signature block\r\n",
	        "line 2 of the signature block is not a base64 line");
	REFUSED(CSOD_SCRIPT_PS,
	        "x\r\n# SIG # Begin signature block\r\n# SIG # End signature block\r\n", "empty");
	REFUSED(
	    CSOD_SCRIPT_PS,
	    "x\r\n# SIG # Begin signature block\r\n# QUJD\r\n# SIG # End signature block\r\ny\r\n",
	    "text follows the signature block");
	REFUSED(CSOD_SCRIPT_PS,
	        "# SIG # Begin signature block\r\n# QUJD\r\n# SIG # End signature block\r\n",
	        "at the start of the file");
	REFUSED(CSOD_SCRIPT_WSF,
	        "<job>\r\n<signature>\r\n** SIG ** QUJD\r\n</signature>\r\nx</job>\r\n",
	        "not right before the last </job>");
	/* Refused on its length alone, before a byte past the first is read. */
	static const char big[] = "x";
	csod_script s;
	csod_error err;
	assert_int_equal(csod_script_parse(&s, CSOD_SCRIPT_PS, (const unsigned char *)big,
	                                   CSOD_SCRIPT_MAX + 1, &err),
	                 -1);
	assert_non_null(strstr(err.msg, "over 64 MiB"));
}

/* A block read back: the same DER; an LF-only file keeps its LFs. */
static void test_block_round_trip(void **state)
{
	(void)state;
	static const unsigned char der[100] = {0x30, 0x62};
	static const char text[] = "a\nb\n";
	for (int k = 0; k < CSOD_SCRIPT_KINDS; k++) {
		const char *t = k == CSOD_SCRIPT_WSF ? "<job>\n</job>\n" : text;
		csod_script s, again;
		csod_error err;
		unsigned char *block, *sig, out[4096];
		size_t block_len, sig_len, head, tail;
		assert_int_equal(csod_script_parse(&s, (csod_script_kind)k,
		                                   (const unsigned char *)t, strlen(t), &err),
		                 0);
		assert_int_equal(csod_script_block(&s, der, sizeof der, &block, &block_len, &err),
		                 0);
		csod_script_around_block(&s, &head, &tail);
		size_t n = 0;
		memcpy(out, t, head);
		n = head;
		memcpy(out + n, block, block_len);
		n += block_len;
		memcpy(out + n, t + tail, strlen(t) - tail);
		n += strlen(t) - tail;
		assert_int_equal(csod_script_parse(&again, (csod_script_kind)k, out, n, &err), 0);
		assert_true(again.has_block);
		assert_true(csod_script_same_content(&s, &again));
		assert_int_equal(csod_script_signature(&again, &sig, &sig_len, &err), 0);
		assert_int_equal(sig_len, sizeof der);
		assert_memory_equal(sig, der, sizeof der);
		free(sig);
		free(block);
	}
}

/* Signed by the engine, then one character changed: its verifier says
 * the hash does not match; the text the signature is over is kept. */
static void test_sign_then_tamper(void **state)
{
	(void)state;
	test_signer signer = test_signer_new("script test");
	csod_identity id = {.key = signer.key, .cert = signer.cert, .chain = NULL};
	csod_sign_options opt = {.digests = {"sha256"}, .n_digests = 1};
	const csod_signer *engines[] = {&csod_signer_powershell, &csod_signer_vbscript};
	for (int e = 0; e < 2; e++) {
		int in = file_with((const unsigned char *)ps_text, strlen(ps_text));
		int out = memfd_create("out", 0);
		csod_error err;
		assert_int_equal(engines[e]->sign(in, out, &id, &opt, &err), 0);
		assert_int_equal(engines[e]->verify(in, out, signer.trust, &err), 0);
		char s[16384];
		ssize_t n = pread(out, s, sizeof s, 0);
		assert_true(n > (ssize_t)strlen(ps_text));
		assert_memory_equal(s, ps_text, strlen(ps_text));
		char copy[16384];
		memcpy(copy, s, (size_t)n);
		s[1] ^= 1;
		int bad = file_with((unsigned char *)s, (size_t)n);
		char orig[64];
		memcpy(orig, ps_text, strlen(ps_text));
		orig[1] ^= 1;
		int bad_in = file_with((unsigned char *)orig, strlen(ps_text));
		assert_int_equal(engines[e]->verify(bad_in, bad, signer.trust, &err), -1);
		assert_non_null(strstr(err.msg, "script hash does not match"));
		/* A VBScript signature moved into a PowerShell block: refused for
		 * its SIP (the hash is another kind's too). */
		if (e == 1) {
			csod_script vbs, ps;
			unsigned char *der, *block;
			size_t der_len, block_len;
			assert_int_equal(csod_script_parse(&vbs, CSOD_SCRIPT_VBS,
			                                   (unsigned char *)copy, (size_t)n, &err),
			                 0);
			assert_int_equal(csod_script_signature(&vbs, &der, &der_len, &err), 0);
			assert_int_equal(csod_script_parse(&ps, CSOD_SCRIPT_PS,
			                                   (const unsigned char *)ps_text,
			                                   strlen(ps_text), &err),
			                 0);
			assert_int_equal(
			    csod_script_block(&ps, der, der_len, &block, &block_len, &err), 0);
			int moved = memfd_create("moved", 0);
			assert_int_equal(pwrite(moved, ps_text, strlen(ps_text), 0),
			                 (ssize_t)strlen(ps_text));
			assert_int_equal(pwrite(moved, block, block_len, (off_t)strlen(ps_text)),
			                 (ssize_t)block_len);
			assert_int_equal(
			    csod_signer_powershell.verify(in, moved, signer.trust, &err), -1);
			assert_non_null(strstr(err.msg, "not its SIP"));
			close(moved);
			free(block);
			free(der);
		}
		close(bad);
		close(bad_in);
		close(in);
		close(out);
	}
	test_signer_free(&signer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_powershell_hash),  cmocka_unit_test(test_wsh_hash),
	    cmocka_unit_test(test_refusals),         cmocka_unit_test(test_block_round_trip),
	    cmocka_unit_test(test_sign_then_tamper),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
