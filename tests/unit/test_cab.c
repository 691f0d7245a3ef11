/* The CAB engine on cabinets built byte by byte: what the parser accepts
 * and every refusal, and that csod's own verifier catches a signed cabinet
 * whose data, hashed header or signature was changed afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/x509v3.h>

#include "../../signers/authenticode/cab_format.h"
#include "../../signers/signer.h"
#include "signing_fixture.h"

extern const csod_signer csod_signer_cab;

/* An unsigned, uncompressed cabinet: one folder with one CFDATA block
 * holding two files, "a.txt" (5 bytes) and "b.txt" (3 bytes). */
static size_t make_cab(unsigned char *c)
{
	static const char data[] = "helloxyz";
	memset(c, 0, 256);
	memcpy(c, "MSCF", 4);
	c[24] = 3; /* version 1.3 */
	c[25] = 1;
	put16(c + 26, 1); /* cFolders */
	put16(c + 28, 2); /* cFiles */
	size_t files = 36 + 8, pos = files;
	put32(c + 16, (uint32_t)files);
	const char *names[2] = {"a.txt", "b.txt"};
	const uint32_t sizes[2] = {5, 3}, offsets[2] = {0, 5};
	for (int i = 0; i < 2; i++) {
		put32(c + pos, sizes[i]);
		put32(c + pos + 4, offsets[i]);
		memcpy(c + pos + 16, names[i], strlen(names[i]) + 1);
		pos += 16 + strlen(names[i]) + 1;
	}
	put32(c + 36, (uint32_t)pos); /* the folder's first CFDATA */
	put16(c + 40, 1);             /* one block, no compression */
	put16(c + pos + 4, 8);        /* cbData */
	put16(c + pos + 6, 8);        /* cbUncomp */
	memcpy(c + pos + 8, data, 8);
	pos += 16;
	put32(c + 8, (uint32_t)pos);
	return pos;
}

static const char *parse_error(const unsigned char *c, size_t len)
{
	static csod_error err;
	csod_cab cab;
	if (csod_cab_parse_buffer(c, len, &cab, &err) == 0)
		return "";
	return err.msg;
}

static void test_accepts_a_plain_cabinet(void **state)
{
	(void)state;
	unsigned char c[256];
	size_t len = make_cab(c);
	csod_cab cab;
	csod_error err;
	assert_int_equal(csod_cab_parse_buffer(c, len, &cab, &err), 0);
	assert_int_equal(cab.n_folders, 1);
	assert_int_equal(cab.n_files, 2);
	assert_int_equal(cab.cb_cabinet, len);
	assert_int_equal(cab.has_signature_area, 0);
	assert_int_equal(cab.sig_offset, 0);
}

static void test_refusals(void **state)
{
	(void)state;
	unsigned char c[256];
	size_t len = make_cab(c);
	assert_non_null(strstr(parse_error(c, 20), "truncated CAB header"));
	assert_non_null(strstr(parse_error((const unsigned char *)"MSCX", 4), "not a CAB"));
	assert_non_null(strstr(parse_error(c, len - 1), "cbCabinet"));
	struct {
		size_t at;
		int width;
		uint32_t value;
		const char *reason;
	} cases[] = {
	    {16, 4, 5000, "coffFiles (5000) points past the end"},
	    {16, 4, 40, "is not where the folder table ends"},
	    {26, 2, 9000, "cFolders (9000) folder entries do not fit"},
	    {28, 2, 3, "file entry 3"},
	    {30, 2, 1, "multi-cabinet sets"},
	    {30, 2, 4, "reserved areas Authenticode cannot use"},
	    {25, 1, 2, "unsupported CAB format version"},
	    {36, 4, 4000, "folder 1's data (offset 4000) lies outside"},
	    {36, 4, 20, "overlaps"},
	    {40, 2, 2, "data block 2 runs past the end"},
	    {42, 2, 7, "unknown compression type"},
	    {44, 4, 9, "file entry 1 (9 bytes at 0) lies outside its folder (8 bytes)"},
	    {52, 2, 1, "file entry 1 names folder 2 of 1"},
	    {52, 2, 0xfffe, "continues in another cabinet"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unsigned char m[256];
		memcpy(m, c, len);
		if (cases[i].width == 4)
			put32(m + cases[i].at, cases[i].value);
		else if (cases[i].width == 2)
			put16(m + cases[i].at, (uint16_t)cases[i].value);
		else
			m[cases[i].at] = (unsigned char)cases[i].value;
		const char *got = parse_error(m, len);
		if (!strstr(got, cases[i].reason))
			fail_msg("case %zu: got '%s', wanted '%s'", i, got, cases[i].reason);
	}
}

static int signed_copy(int out, unsigned char *copy, size_t cap)
{
	off_t size = lseek(out, 0, SEEK_END);
	assert_true(size > 0 && (size_t)size <= cap);
	assert_int_equal(pread(out, copy, (size_t)size, 0), size);
	return (int)size;
}

static void test_sign_then_tamper(void **state)
{
	(void)state;
	test_signer signer = test_signer_new("cab test");
	X509_STORE *trust = signer.trust;
	csod_identity id = {.key = signer.key, .cert = signer.cert, .chain = NULL};
	csod_sign_options opt = {.digests = {"sha1", "sha256"}, .n_digests = 2};
	unsigned char c[256];
	size_t len = make_cab(c);
	int in = file_with(c, len), out = memfd_create("out", 0);
	csod_error err;
	assert_int_equal(csod_signer_cab.sign(in, out, &id, &opt, &err), 0);
	assert_int_equal(csod_signer_cab.verify(in, out, trust, &err), 0);

	/* The signed file: the reserve inserted, the signature after the cabinet. */
	static unsigned char s[16384];
	int slen = signed_copy(out, s, sizeof s);
	csod_cab cab;
	assert_int_equal(csod_cab_parse_buffer(s, (size_t)slen, &cab, &err), 0);
	assert_int_equal(cab.cb_cabinet, len + 24);
	assert_int_equal(cab.coff_files, 44 + 24);
	assert_int_equal(cab.sig_offset, len + 24);
	assert_int_equal(cab.sig_size % 8, 0);

	struct {
		size_t at;
		const char *reason;
	} tampered[] = {
	    {cab.cb_cabinet - 1, "cabinet hash does not match"}, /* a data byte */
	    {24, "cabinet hash does not match"},                 /* versionMinor, hashed */
	    {cab.sig_offset + 40, ""},                           /* inside the signature */
	};
	for (size_t i = 0; i < sizeof tampered / sizeof tampered[0]; i++) {
		unsigned char *t = malloc((size_t)slen);
		memcpy(t, s, (size_t)slen);
		t[tampered[i].at] ^= 0x01;
		int bad = file_with(t, (size_t)slen);
		/* Checked against a cabinet whose own bytes were changed the same way,
		 * so that only the signature can tell. */
		unsigned char orig[256];
		memcpy(orig, c, len);
		if (tampered[i].at >= cab.coff_files && tampered[i].at < cab.cb_cabinet)
			orig[tampered[i].at - 24] ^= 0x01;
		if (tampered[i].at < 36)
			orig[tampered[i].at] ^= 0x01;
		int same_in = file_with(orig, len);
		assert_int_equal(csod_signer_cab.verify(same_in, bad, trust, &err), -1);
		if (!strstr(err.msg, tampered[i].reason))
			fail_msg("tamper %zu: got '%s'", i, err.msg);
		close(bad);
		close(same_in);
		free(t);
	}
	/* A signed cabinet that does not hold what was submitted. */
	unsigned char other[256];
	memcpy(other, c, len);
	other[len - 1] ^= 0x01;
	int other_in = file_with(other, len);
	assert_int_equal(csod_signer_cab.verify(other_in, out, trust, &err), -1);
	assert_non_null(strstr(err.msg, "differ from the input's"));
	close(other_in);

	/* Re-signing reuses the reserve; appending keeps the old signature. */
	int again = memfd_create("again", 0);
	opt.append = 1;
	opt.n_digests = 1;
	assert_int_equal(csod_signer_cab.sign(out, again, &id, &opt, &err), 0);
	assert_int_equal(csod_signer_cab.verify(in, again, trust, &err), 0);
	csod_cab appended;
	assert_int_equal(csod_cab_parse(again, &appended, &err), 0);
	assert_int_equal(appended.cb_cabinet, cab.cb_cabinet);
	assert_true(appended.sig_size > cab.sig_size);

	close(again);
	close(in);
	close(out);
	test_signer_free(&signer);
}

/* sign_checked: the self-check runs beside the signing, with the same
 * verdicts as sign() then verify(). */
static void test_sign_checked(void **state)
{
	(void)state;
	test_signer signer = test_signer_new("cab test"), stranger = test_signer_new("stranger");
	csod_identity id = {.key = signer.key, .cert = signer.cert, .chain = NULL};
	csod_sign_options opt = {.digests = {"sha1", "sha256"}, .n_digests = 2};
	unsigned char c[256];
	size_t len = make_cab(c);
	int in = file_with(c, len), plain = memfd_create("plain", 0), out = memfd_create("out", 0);
	csod_error err;
	assert_int_equal(csod_signer_cab.sign(in, plain, &id, &opt, &err), 0);
	assert_int_equal(
	    csod_sign_checked(&csod_signer_cab, in, out, &id, &opt, signer.trust, &err), 0);
	assert_int_equal(csod_signer_cab.verify(in, out, signer.trust, &err), 0);
	/* The same cabinet part as sign() writes (the signatures, and so their
	 * sizes in the header, differ: ECDSA). */
	static unsigned char a[16384], b[16384];
	signed_copy(plain, a, sizeof a);
	signed_copy(out, b, sizeof b);
	assert_memory_equal(a, b, CAB_OFF_SIG_SIZE);
	assert_memory_equal(a + CAB_OFF_SIG_SIZE + 4, b + CAB_OFF_SIG_SIZE + 4,
	                    len + 24 - CAB_OFF_SIG_SIZE - 4);

	/* A signer the trust store does not know: signed, but the check fails. */
	int untrusted = memfd_create("untrusted", 0);
	assert_int_equal(
	    csod_sign_checked(&csod_signer_cab, in, untrusted, &id, &opt, stranger.trust, &err),
	    CSOD_CHECK_FAILED);
	assert_non_null(strstr(err.msg, "chain"));

	/* Appending another digest: the existing signatures' hashes are not
	 * among those read back, so the check computes them again. */
	int again = memfd_create("again", 0);
	csod_sign_options more = {.digests = {"sha384"}, .n_digests = 1, .append = 1};
	assert_int_equal(
	    csod_sign_checked(&csod_signer_cab, out, again, &id, &more, signer.trust, &err), 0);
	assert_int_equal(csod_signer_cab.verify(in, again, signer.trust, &err), 0);

	/* Not a cabinet: a signing failure, not a check failure. */
	int junk = file_with((const unsigned char *)"MSCF", 4), junk_out = memfd_create("j", 0);
	assert_int_equal(
	    csod_sign_checked(&csod_signer_cab, junk, junk_out, &id, &opt, signer.trust, &err),
	    CSOD_SIGN_FAILED);
	close(junk);
	close(junk_out);
	close(again);
	close(untrusted);
	close(in);
	close(plain);
	close(out);
	test_signer_free(&stranger);
	test_signer_free(&signer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepts_a_plain_cabinet),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_sign_checked),
	    cmocka_unit_test(test_sign_then_tamper),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
