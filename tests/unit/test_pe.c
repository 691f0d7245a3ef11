/* The PE engine's self-check on a PE32+ built byte by byte: a signed file
 * verifies, and one changed afterwards in a hashed byte, in its checksum or
 * in its signature does not. The daemon publishes nothing that fails this,
 * so it must be able to fail. Also the attribute certificate table: its
 * parser's refusals, and nesting onto another signer's file with two
 * entries (both kept, the second checked against the input's). */
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

#include "../../signers/authenticode/pe_certs.h"
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

static void test_cert_table_parse(void **state)
{
	(void)state;
	unsigned char t[64] = {0};
	csod_pe_certs c;
	csod_error err;
	put32(t, 20);      /* entry 1: 20 bytes, then padding to 24 */
	put32(t + 24, 13); /* entry 2: 13 bytes, unpadded at the end */
	assert_int_equal(csod_pe_certs_parse(t, 37, &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.entry[1].at, 24);
	assert_int_equal(csod_pe_certs_rest(&c), 24);
	assert_int_equal(csod_pe_certs_parse(t, 40, &c, &err), 0); /* padded too */
	struct {
		size_t len;
		uint32_t second;
		const char *reason;
	} bad[] = {
	    {37, 14, "entry 2 has a length (14) that does not fit"},
	    {37, 0, "entry 2 has a length (0)"},
	    {29, 5, "ends inside the header of entry 2"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		put32(t + 24, bad[i].second);
		assert_int_equal(csod_pe_certs_parse(t, bad[i].len, &c, &err), -1);
		if (!strstr(err.msg, bad[i].reason))
			fail_msg("table %zu: got '%s'", i, err.msg);
	}
}

/* A copy of the signed file in s (size bytes) with its one entry twice. */
static unsigned char *with_two_entries(const unsigned char *s, size_t size, size_t *out_size)
{
	csod_pe pe;
	csod_error err;
	assert_int_equal(csod_pe_parse_buffer(s, size, &pe, &err), 0);
	unsigned char *t = malloc(size + pe.cert_size);
	memcpy(t, s, size);
	memcpy(t + size, s + pe.cert_table, pe.cert_size);
	put32(t + pe.certdir_offset + 4, 2 * pe.cert_size);
	*out_size = size + pe.cert_size;
	return t;
}

static void test_nest_keeps_entries(void **state)
{
	(void)state;
	test_signer vendor = test_signer_new("vendor"), ours = test_signer_new("ours");
	csod_identity vid = {.key = vendor.key, .cert = vendor.cert, .chain = NULL};
	csod_identity oid = {.key = ours.key, .cert = ours.cert, .chain = NULL};
	csod_sign_options opt = {.digests = {"sha256"}, .n_digests = 1};
	unsigned char p[PE_SIZE];
	make_pe(p);
	int plain = file_with(p, sizeof p), signed1 = memfd_create("v", 0);
	csod_error err;
	assert_int_equal(csod_signer_pe.sign(plain, signed1, &vid, &opt, &err), 0);
	static unsigned char s[16384];
	off_t size = lseek(signed1, 0, SEEK_END);
	assert_int_equal(pread(signed1, s, (size_t)size, 0), size);
	size_t two_size;
	unsigned char *two = with_two_entries(s, (size_t)size, &two_size);
	int in = file_with(two, two_size), out = memfd_create("out", 0);
	opt.append = 1;
	assert_int_equal(csod_signer_pe.sign(in, out, &oid, &opt, &err), 0);
	/* The vendor's signatures are not under our root: structure only. */
	assert_int_equal(csod_signer_pe.verify(in, out, ours.trust, &err), 0);

	csod_pe pe;
	csod_pe_certs certs;
	assert_int_equal(csod_pe_parse(out, &pe, &err), 0);
	assert_int_equal(csod_pe_certs_read(out, &pe, &certs, &err), 0);
	assert_int_equal(certs.n, 2);
	uint32_t second = csod_pe_certs_rest(&certs);
	csod_pe_certs_free(&certs);

	/* The second entry changed after signing: not the input's. */
	size = lseek(out, 0, SEEK_END);
	assert_int_equal(pread(out, s, (size_t)size, 0), size);
	s[pe.cert_table + second + 100] ^= 1;
	memset(s + pe.checksum_offset, 0, 4); /* a checksum that agrees */
	put32(s + pe.checksum_offset,
	      csod_pe_checksum_of(csod_pe_sum_at(0, s, (size_t)size), (uint64_t)size));
	int bad = file_with(s, (size_t)size);
	assert_int_equal(csod_signer_pe.verify(in, bad, ours.trust, &err), -1);
	if (!strstr(err.msg, "not the input's"))
		fail_msg("got '%s'", err.msg);
	/* Without our root, nothing is checked in full: refused. */
	test_signer other = test_signer_new("other");
	assert_int_equal(csod_signer_pe.verify(in, out, other.trust, &err), -1);
	assert_non_null(strstr(err.msg, "does not chain"));
	test_signer_free(&other);
	close(bad);
	close(in);
	close(out);
	close(plain);
	close(signed1);
	free(two);
	test_signer_free(&vendor);
	test_signer_free(&ours);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_then_tamper),
	    cmocka_unit_test(test_cert_table_parse),
	    cmocka_unit_test(test_nest_keeps_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
