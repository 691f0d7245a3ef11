/* csod_scan: one read of a range over two threads; the calling thread's
 * after_hash sees every chunk in order, and its failure stops the scan
 * (the reader thread must not wait for a consumer that has gone). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../signers/common/scan.h"

typedef struct seen {
	uint64_t next;
	int chunks, stop_at;
	unsigned char sum;
} seen;

static int after(void *ctx, unsigned char *buf, uint64_t pos, size_t len, csod_error *err)
{
	seen *s = ctx;
	if (pos != s->next)
		return csod_fail(err, "out of order");
	s->next = pos + len;
	for (size_t i = 0; i < len; i++)
		s->sum ^= buf[i];
	if (++s->chunks == s->stop_at)
		return csod_fail(err, "stopped by after_hash");
	return 0;
}

static int file_of(size_t size)
{
	int fd = memfd_create("scan", 0);
	assert_true(fd >= 0);
	unsigned char block[4096];
	for (size_t i = 0; i < sizeof block; i++)
		block[i] = (unsigned char)(i * 7);
	for (size_t at = 0; at < size; at += sizeof block)
		assert_int_equal(pwrite(fd, block, sizeof block, (off_t)at), sizeof block);
	return fd;
}

static void test_after_hash_sees_everything(void **state)
{
	(void)state;
	size_t size = 8 * (size_t)CSOD_SCAN_CHUNK + 4096;
	int fd = file_of(size);
	EVP_MD_CTX *md[1];
	const EVP_MD *sha[1] = {EVP_sha256()};
	csod_error err;
	assert_int_equal(csod_scan_start(md, sha, 1, &err), 0);
	seen s = {0, 0, 0, 0};
	csod_scan scan = {.fd = fd,
	                  .to = size,
	                  .hash_end = UINT64_MAX,
	                  .md = md,
	                  .n_md = 1,
	                  .after_hash = after,
	                  .ctx = &s};
	assert_int_equal(csod_scan_run(&scan, &err), 0);
	assert_int_equal(s.next, size);
	assert_int_equal(s.chunks, 9);
	assert_int_equal(csod_scan_finish(md, 1, NULL, NULL, &err), 0);
	close(fd);
}

static void test_after_hash_failure_stops_the_scan(void **state)
{
	(void)state;
	size_t size = 16 * (size_t)CSOD_SCAN_CHUNK;
	int fd = file_of(size);
	csod_error err;
	seen s = {0, 0, 2, 0};
	csod_scan scan = {
	    .fd = fd, .to = size, .hash_end = UINT64_MAX, .after_hash = after, .ctx = &s};
	assert_int_equal(csod_scan_run(&scan, &err), -1);
	assert_string_equal(err.msg, "stopped by after_hash");
	assert_int_equal(s.chunks, 2);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_after_hash_sees_everything),
	    cmocka_unit_test(test_after_hash_failure_stops_the_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
