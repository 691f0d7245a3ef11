/* The PE engine's self-check on a PE32+ built byte by byte: a signed file
 * verifies, and one changed afterwards in a hashed byte, in its checksum or
 * in its signature does not. The daemon publishes nothing that fails this,
 * so it must be able to fail. */
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

#include "../../signers/authenticode/pe_format.h"
#include "../../signers/signer.h"
#include "signing_fixture.h"

extern const csod_signer csod_signer_pe;

#define PE_SIZE 0x400

/* MZ, PE signature, COFF header, a PE32+ optional header with 16 data
 * directories, and one section of 0x200 bytes at 0x200. */
static void make_pe(unsigned char *p)
{
	memset(p, 0, PE_SIZE);
	p[0] = 'M';
	p[1] = 'Z';
	put32(p + 0x3c, 0x40);
	memcpy(p + 0x40, "PE\0\0", 4);
	unsigned char *coff = p + 0x44;
	put16(coff, 0x8664);   /* x86-64 */
	put16(coff + 2, 1);    /* one section */
	put16(coff + 16, 240); /* SizeOfOptionalHeader */
	put16(coff + 18, 0x22);
	unsigned char *opt = coff + 20;
	put16(opt, 0x20b);      /* PE32+ */
	put32(opt + 60, 0x200); /* SizeOfHeaders */
	put32(opt + 108, 16);   /* NumberOfRvaAndSizes */
	unsigned char *section = opt + 240;
	memcpy(section, ".text", 5);
	put32(section + 8, 0x200); /* VirtualSize */
	put32(section + 12, 0x1000);
	put32(section + 16, 0x200); /* SizeOfRawData */
	put32(section + 20, 0x200); /* PointerToRawData */
	for (int i = 0x200; i < PE_SIZE; i++)
		p[i] = (unsigned char)(i * 7);
}

static void test_sign_then_tamper(void **state)
{
	(void)state;
	test_signer signer = test_signer_new("pe test");
	X509_STORE *trust = signer.trust;
	csod_identity id = {.key = signer.key, .cert = signer.cert, .chain = NULL};
	csod_sign_options opt = {.digests = {"sha256", "sha1"}, .n_digests = 2};
	unsigned char p[PE_SIZE];
	make_pe(p);
	int in = file_with(p, sizeof p), out = memfd_create("out", 0);
	csod_error err;
	assert_int_equal(csod_signer_pe.sign(in, out, &id, &opt, &err), 0);
	assert_int_equal(csod_signer_pe.verify(in, out, trust, &err), 0);

	off_t size = lseek(out, 0, SEEK_END);
	static unsigned char s[16384];
	assert_true(size > PE_SIZE && (size_t)size <= sizeof s);
	assert_int_equal(pread(out, s, (size_t)size, 0), size);
	csod_pe pe;
	assert_int_equal(csod_pe_parse_buffer(s, (size_t)size, &pe, &err), 0);
	assert_int_equal(pe.cert_table, PE_SIZE);

	struct {
		size_t at;
		const char *reason;
	} tampered[] = {
	    {0x300, "image hash does not match"},      /* section data */
	    {0x50, "image hash does not match"},       /* a hashed header byte */
	    {pe.checksum_offset, "checksum is wrong"}, /* not hashed, but checked */
	    {pe.cert_table + 8 + 60, ""},              /* inside the signature */
	};
	for (size_t i = 0; i < sizeof tampered / sizeof tampered[0]; i++) {
		unsigned char *t = malloc((size_t)size);
		memcpy(t, s, (size_t)size);
		t[tampered[i].at] ^= 0x01;
		int bad = file_with(t, (size_t)size);
		assert_int_equal(csod_signer_pe.verify(in, bad, trust, &err), -1);
		if (!strstr(err.msg, tampered[i].reason))
			fail_msg("tamper %zu: got '%s'", i, err.msg);
		close(bad);
		free(t);
	}
	/* Another signer's trust does not do. */
	test_signer other = test_signer_new("pe test other");
	assert_int_equal(csod_signer_pe.verify(in, out, other.trust, &err), -1);
	assert_non_null(strstr(err.msg, "does not chain"));
	test_signer_free(&other);
	close(in);
	close(out);
	test_signer_free(&signer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_then_tamper),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
