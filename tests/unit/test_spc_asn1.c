/* Authenticode's structures as csod encodes them (spc_asn1.c, OpenSSL ASN.1
 * templates) against the bytes signtool writes, and whole at any length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "../../signers/authenticode/spc.h"
#include "../../signers/authenticode/spc_asn1.h"
#include "../../signers/authenticode/spc_opus.h"

/* The SpcLink file "<<<Obsolete>>>" as a BMPString, as signtool writes it. */
static const unsigned char obsolete_link[] = {
    0xa2, 0x1e, 0x80, 0x1c, 0x00, 0x3c, 0x00, 0x3c, 0x00, 0x3c, 0x00, 0x4f, 0x00, 0x62, 0x00, 0x73,
    0x00, 0x6f, 0x00, 0x6c, 0x00, 0x65, 0x00, 0x74, 0x00, 0x65, 0x00, 0x3e, 0x00, 0x3e, 0x00, 0x3e};

static void test_fixed_shapes(void **state)
{
	(void)state;
	unsigned char *der = NULL;
	int n = csod_spc_encode_obsolete_link(&der);
	assert_int_equal(n, sizeof obsolete_link);
	assert_memory_equal(der, obsolete_link, sizeof obsolete_link);
	OPENSSL_free(der);

	/* SpcPeImageData: empty flags (03 01 00), then [0] the link. */
	unsigned char pe[64];
	size_t len = csod_spc_pe_image_data(pe, sizeof pe);
	assert_int_equal(len, 2 + 3 + 2 + sizeof obsolete_link);
	static const unsigned char head[] = {0x30, 0x25, 0x03, 0x01, 0x00, 0xa0, 0x20};
	assert_memory_equal(pe, head, sizeof head);
	assert_memory_equal(pe + sizeof head, obsolete_link, sizeof obsolete_link);
	/* Too small a buffer: nothing, never a cut encoding. */
	assert_int_equal(csod_spc_pe_image_data(pe, len - 1), 0);

	static const unsigned char individual[] = {0x30, 0x0c, 0x06, 0x0a, 0x2b, 0x06, 0x01,
	                                           0x04, 0x01, 0x82, 0x37, 0x02, 0x01, 0x15};
	n = csod_spc_encode_statement_individual(&der);
	assert_int_equal(n, sizeof individual);
	assert_memory_equal(der, individual, sizeof individual);
	OPENSSL_free(der);
}

static void test_indirect_data(void **state)
{
	(void)state;
	unsigned char hash[32];
	memset(hash, 0xab, sizeof hash);
	unsigned char *der = NULL;
	int n = csod_spc_encode_indirect_data(SPC_CAB_DATA, obsolete_link, sizeof obsolete_link,
	                                      EVP_sha256(), hash, sizeof hash, &der);
	/* SEQUENCE { SEQUENCE { OID cab data, the link }, DigestInfo } */
	static const unsigned char start[] = {0x30, 0x61, 0x30, 0x2c, 0x06, 0x0a, 0x2b, 0x06,
	                                      0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x01, 0x19};
	static const unsigned char digest_info[] = {
	    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}; /* sha256, NULL, OCTET STRING */
	assert_int_equal(n, 0x63);
	assert_memory_equal(der, start, sizeof start);
	assert_memory_equal(der + sizeof start, obsolete_link, sizeof obsolete_link);
	assert_memory_equal(der + sizeof start + sizeof obsolete_link, digest_info,
	                    sizeof digest_info);
	assert_memory_equal(der + n - 32, hash, 32);
	OPENSSL_free(der);
	/* A value that is not one DER element is refused, not cut or padded. */
	assert_int_equal(csod_spc_encode_indirect_data(SPC_CAB_DATA, obsolete_link,
	                                               sizeof obsolete_link - 1, EVP_sha256(), hash,
	                                               sizeof hash, &der),
	                 -1);
	assert_null(der);
}

/* A program name far over the old 1 KiB buffers is encoded whole. */
static void test_long_description(void **state)
{
	(void)state;
	char name[3001];
	for (size_t i = 0; i + 2 < sizeof name; i += 2)
		memcpy(name + i, "\xc3\xa4", 2); /* ä, 1,500 times */
	name[sizeof name - 1] = '\0';
	unsigned char *der = NULL;
	csod_error err;
	int n = csod_spc_opus_info(name, NULL, &der, &err);
	assert_true(n > 3000); /* 1,500 BMP characters: 3,000 bytes and headers */
	OPENSSL_free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixed_shapes),
	    cmocka_unit_test(test_indirect_data),
	    cmocka_unit_test(test_long_description),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
