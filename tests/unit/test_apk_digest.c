/* Unit tests for the v2/v3 content digest hashed on a second thread: the
 * result equals the spec's definition computed here plainly (SHA-256 over
 * each section's 1 MB chunks, each prefixed 0xa5 + length, then over the
 * chunk digests prefixed 0x5a + count), for sections of awkward sizes, fed
 * in odd pieces, by copy (feed) and in place (room/commit), through many
 * more chunks than the ring holds; an abandoned digester stops; the
 * chunks it is asked to write land where they belong, and a failed write
 * is reported. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../signers/android/apk_digest.h"

#define MB CSOD_APK_CHUNK

/* The spec's digest of the sections, computed in one go. */
static void reference(const unsigned char *data, const size_t *sections, int n,
                      unsigned char out[CSOD_APK_SHA256_BYTES])
{
	unsigned char *digests = malloc(4096 * CSOD_APK_SHA256_BYTES);
	uint32_t count = 0;
	for (int s = 0; s < n; s++) {
		for (size_t off = 0; off < sections[s]; off += MB) {
			size_t len = sections[s] - off < MB ? sections[s] - off : MB;
			unsigned char prefix[5] = {
			    0xa5, (unsigned char)len, (unsigned char)(len >> 8),
			    (unsigned char)(len >> 16), (unsigned char)(len >> 24)};
			EVP_MD_CTX *c = EVP_MD_CTX_new();
			EVP_DigestInit_ex(c, EVP_sha256(), NULL);
			EVP_DigestUpdate(c, prefix, 5);
			EVP_DigestUpdate(c, data + off, len);
			EVP_DigestFinal_ex(c, digests + count++ * CSOD_APK_SHA256_BYTES, NULL);
			EVP_MD_CTX_free(c);
		}
		data += sections[s];
	}
	unsigned char prefix[5] = {0x5a, (unsigned char)count, (unsigned char)(count >> 8),
	                           (unsigned char)(count >> 16), (unsigned char)(count >> 24)};
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	EVP_DigestUpdate(c, prefix, 5);
	EVP_DigestUpdate(c, digests, count * CSOD_APK_SHA256_BYTES);
	EVP_DigestFinal_ex(c, out, NULL);
	EVP_MD_CTX_free(c);
	free(digests);
}

static unsigned char *pattern(size_t len)
{
	unsigned char *p = malloc(len ? len : 1);
	uint32_t x = 12345;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (unsigned char)(x >> 16);
	}
	return p;
}

/* Digests the sections through the digester, in pieces of `piece` bytes
 * (varying), by feed or, with in_place, by room/commit. */
static void threaded(const unsigned char *data, const size_t *sections, int n, size_t piece,
                     int in_place, unsigned char out[CSOD_APK_SHA256_BYTES])
{
	csod_apk_digester d;
	assert_int_equal(csod_apk_digester_init(&d), 0);
	for (int s = 0; s < n; s++) {
		size_t left = sections[s], step = piece;
		while (left) {
			size_t len = left < step ? left : step;
			if (in_place) {
				size_t room;
				unsigned char *p = csod_apk_digester_room(&d, &room);
				assert_non_null(p);
				assert_true(room > 0);
				if (len > room)
					len = room;
				memcpy(p, data, len);
				csod_apk_digester_commit(&d, len);
			} else {
				csod_apk_digester_feed(&d, data, len);
			}
			data += len;
			left -= len;
			step = step * 7 % 300007 + 1; /* pieces of every size */
		}
		csod_apk_digester_end_section(&d);
	}
	csod_error err;
	assert_int_equal(csod_apk_digester_finish(&d, out, &err), 0);
	csod_apk_digester_free(&d);
}

static void check(const size_t *sections, int n, size_t piece)
{
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += sections[i];
	unsigned char *data = pattern(total);
	unsigned char want[CSOD_APK_SHA256_BYTES], got[CSOD_APK_SHA256_BYTES];
	reference(data, sections, n, want);
	threaded(data, sections, n, piece, 0, got);
	assert_memory_equal(got, want, sizeof want);
	threaded(data, sections, n, piece, 1, got);
	assert_memory_equal(got, want, sizeof want);
	free(data);
}

static void test_small_sections(void **state)
{
	(void)state;
	const size_t s1[] = {1, 0, 22};
	check(s1, 3, 1);
	const size_t s2[] = {MB, 46, 22};
	check(s2, 3, 4096);
	const size_t s3[] = {MB - 1, MB + 1, 22};
	check(s3, 3, 65536);
}

static void test_many_chunks(void **state)
{
	(void)state;
	/* Ten times the ring: the caller must wait for slots to come back. */
	const size_t s[] = {10 * MB + 12345, 3 * MB, 100};
	check(s, 3, 256 * 1024);
	check(s, 3, 3 * MB);
}

static void test_abandoned(void **state)
{
	(void)state;
	unsigned char *data = pattern(5 * MB);
	csod_apk_digester d;
	assert_int_equal(csod_apk_digester_init(&d), 0);
	csod_apk_digester_feed(&d, data, 5 * MB);
	csod_apk_digester_free(&d); /* no finish: the thread must still end */
	assert_int_equal(csod_apk_digester_init(&d), 0);
	csod_apk_digester_free(&d); /* nothing fed at all */
	free(data);
}

/* The first section is also written out, at its offset; the rest is not. */
static void test_writes_first_section(void **state)
{
	(void)state;
	const size_t first = 4 * MB + 777, rest = 5000;
	unsigned char *data = pattern(first + rest);
	int fd = memfd_create("apk", MFD_CLOEXEC);
	assert_true(fd >= 0);
	csod_apk_digester d;
	assert_int_equal(csod_apk_digester_init(&d), 0);
	csod_apk_digester_write_to(&d, fd, 100);
	csod_apk_digester_feed(&d, data, first);
	csod_apk_digester_end_section(&d);
	csod_apk_digester_write_to(&d, -1, 0);
	csod_apk_digester_feed(&d, data + first, rest);
	unsigned char out[CSOD_APK_SHA256_BYTES];
	csod_error err;
	assert_int_equal(csod_apk_digester_finish(&d, out, &err), 0);
	csod_apk_digester_free(&d);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 100 + first);
	unsigned char *back = malloc(first);
	assert_int_equal(pread(fd, back, first, 100), (ssize_t)first);
	assert_memory_equal(back, data, first);
	free(back);
	close(fd);
	free(data);
}

/* A write that fails is reported by finish, with the reason. */
static void test_write_failure(void **state)
{
	(void)state;
	unsigned char *data = pattern(2 * MB);
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	csod_apk_digester d;
	assert_int_equal(csod_apk_digester_init(&d), 0);
	csod_apk_digester_write_to(&d, fd, 0);
	csod_apk_digester_feed(&d, data, 2 * MB);
	unsigned char out[CSOD_APK_SHA256_BYTES];
	csod_error err;
	assert_int_equal(csod_apk_digester_finish(&d, out, &err), -1);
	assert_non_null(strstr(err.msg, "cannot write"));
	csod_apk_digester_free(&d);
	close(fd);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_sections), cmocka_unit_test(test_many_chunks),
	    cmocka_unit_test(test_abandoned),      cmocka_unit_test(test_writes_first_section),
	    cmocka_unit_test(test_write_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
