/* What the engine unit tests share: little-endian writers for files built
 * byte by byte, a self-signed identity, and a file in memory (memfd) for
 * the engines' fd interface. Include after cmocka.h. */
#ifndef CSOD_TEST_SIGNING_FIXTURE_H
#define CSOD_TEST_SIGNING_FIXTURE_H

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/x509v3.h>

static inline void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static inline void put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

/* A certificate for key, valid for an hour, issued by itself. */
static inline X509 *self_signed(EVP_PKEY *key, const char *cn)
{
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, key);
	X509_sign(x, key, EVP_sha256());
	return x;
}

/* A self-signed EC P-256 signer and a trust store holding its certificate. */
typedef struct test_signer {
	EVP_PKEY *key;
	X509 *cert;
	X509_STORE *trust;
} test_signer;

static inline test_signer test_signer_new(const char *cn)
{
	test_signer t;
	t.key = EVP_EC_gen("P-256");
	t.cert = self_signed(t.key, cn);
	t.trust = X509_STORE_new();
	X509_STORE_add_cert(t.trust, t.cert);
	return t;
}

static inline void test_signer_free(test_signer *t)
{
	X509_STORE_free(t->trust);
	X509_free(t->cert);
	EVP_PKEY_free(t->key);
}

static inline int file_with(const unsigned char *data, size_t len)
{
	int fd = memfd_create("csod-test", 0);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, 0), (ssize_t)len);
	return fd;
}

#endif
