/* Unit tests for the APK self-check: it passes on what the engine signs,
 * and it catches, on its single read of the output, an entry whose bytes
 * changed (CRC), an entry whose content no longer matches its v1 manifest
 * digest (CRC fixed up to match), and a change outside the entries that
 * only the v2/v3 digest covers. Key and certificate made at run time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <zlib.h>

#include "../../signers/android/apk_check.h"
#include "../../signers/java/zip_read.h"
#include "../../signers/java/zip_write.h"
#include "../../signers/signer.h"

extern const csod_signer csod_signer_apk;

static csod_identity id;
static X509_STORE *trust;
static unsigned char *signed_apk;
static size_t signed_len;
static int in_fd;

static int memfd_with(const unsigned char *data, size_t len)
{
	int fd = memfd_create("apk", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	return fd;
}

static void read_all(int fd, unsigned char **out, size_t *len)
{
	off_t end = lseek(fd, 0, SEEK_END);
	*out = malloc((size_t)end);
	assert_int_equal(pread(fd, *out, (size_t)end, 0), end);
	*len = (size_t)end;
}

static int setup(void **state)
{
	(void)state;
	id.key = EVP_RSA_gen(2048);
	id.cert = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"apk test", -1,
	                           -1, 0);
	X509_set_version(id.cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(id.cert), 1);
	X509_set_subject_name(id.cert, name);
	X509_set_issuer_name(id.cert, name);
	X509_gmtime_adj(X509_getm_notBefore(id.cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(id.cert), 3600);
	X509_set_pubkey(id.cert, id.key);
	assert_true(X509_sign(id.cert, id.key, EVP_sha256()) > 0);
	X509_NAME_free(name);
	trust = X509_STORE_new();
	X509_STORE_add_cert(trust, id.cert);

	/* The input: small and large (several read pieces) stored entries. */
	in_fd = memfd_create("in", MFD_CLOEXEC);
	csod_zip_out o;
	csod_zip_out_init(&o, in_fd);
	csod_error err;
	size_t big = 700000;
	unsigned char *dex = malloc(big);
	for (size_t i = 0; i < big; i++)
		dex[i] = (unsigned char)(i * 2654435761u >> 13);
	assert_int_equal(csod_zip_out_add(&o, "AndroidManifest.xml",
	                                  (const unsigned char *)"<manifest/>\n", 12, 0, &err),
	                 0);
	assert_int_equal(csod_zip_out_add(&o, "classes.dex", dex, big, 0, &err), 0);
	uint64_t cd = o.pos;
	csod_buf eocd = {0};
	assert_int_equal(csod_zip_out_write(&o, o.cd.p, o.cd.len, &err), 0);
	csod_zip_out_eocd(&o, cd, NULL, 0, &eocd);
	assert_int_equal(csod_zip_out_write(&o, eocd.p, eocd.len, &err), 0);
	csod_buf_free(&eocd);
	csod_zip_out_free(&o);
	free(dex);

	int out = memfd_create("out", MFD_CLOEXEC);
	csod_sign_options opt;
	memset(&opt, 0, sizeof opt);
	opt.min_sdk = 21; /* v1 + v2 + v3 */
	assert_int_equal(csod_signer_apk.sign(in_fd, out, &id, &opt, &err), 0);
	read_all(out, &signed_apk, &signed_len);
	close(out);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(signed_apk);
	close(in_fd);
	X509_STORE_free(trust);
	X509_free(id.cert);
	EVP_PKEY_free(id.key);
	return 0;
}

/* Offset of the entry's data in the signed APK, its local header, and its
 * central directory record. */
static void locate(const char *name, uint64_t *data, uint64_t *local, uint64_t *central)
{
	int fd = memfd_with(signed_apk, signed_len);
	csod_zip z;
	csod_error err;
	assert_int_equal(csod_zip_open(&z, fd, "t", &err), 0);
	long i = csod_zip_find(&z, name);
	assert_true(i >= 0);
	*data = z.entries[i].data_offset;
	*local = z.entries[i].local_offset;
	uint64_t pos = z.cd_offset;
	for (long k = 0; k < i; k++)
		pos += 46u + z.entries[k].name_len + z.entries[k].cd_extra_len +
		       z.entries[k].comment_len;
	*central = pos;
	csod_zip_close(&z);
	close(fd);
}

/* Self-check of a changed copy (in: the original input, or the copy). */
static int check_changed(const unsigned char *apk, int same_as_input, csod_error *err)
{
	int out = memfd_with(apk, signed_len);
	int in = same_as_input ? memfd_with(apk, signed_len) : in_fd;
	int rc = csod_apk_self_check(in, out, trust, err);
	close(out);
	if (same_as_input)
		close(in);
	return rc;
}

static void test_signed_passes(void **state)
{
	(void)state;
	csod_error err;
	assert_int_equal(check_changed(signed_apk, 0, &err), 0);
}

static void test_entry_byte_changed(void **state)
{
	(void)state;
	uint64_t data, local, central;
	locate("classes.dex", &data, &local, &central);
	unsigned char *apk = malloc(signed_len);
	memcpy(apk, signed_apk, signed_len);
	apk[data + 500000] ^= 1; /* in the second read piece */
	csod_error err;
	assert_int_equal(check_changed(apk, 0, &err), -1);
	assert_non_null(strstr(err.msg, "classes.dex"));
	assert_non_null(strstr(err.msg, "CRC-32"));
	/* The CRC made to match, in both headers: the v1 digest catches it. */
	uint32_t crc = (uint32_t)crc32(0, apk + data, 700000);
	csod_put32(apk + local + 14, crc);
	csod_put32(apk + central + 16, crc);
	assert_int_equal(check_changed(apk, 1, &err), -1);
	assert_non_null(strstr(err.msg, "'classes.dex' does not match its manifest digest"));
	free(apk);
}

static void test_directory_changed(void **state)
{
	(void)state;
	uint64_t data, local, central;
	locate("AndroidManifest.xml", &data, &local, &central);
	unsigned char *apk = malloc(signed_len);
	memcpy(apk, signed_apk, signed_len);
	apk[central + 38] ^= 1; /* external attributes: only v2/v3 cover them */
	csod_error err;
	assert_int_equal(check_changed(apk, 0, &err), -1);
	assert_non_null(strstr(err.msg, "digest does not match the APK's content"));
	free(apk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_signed_passes),
	    cmocka_unit_test(test_entry_byte_changed),
	    cmocka_unit_test(test_directory_changed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
