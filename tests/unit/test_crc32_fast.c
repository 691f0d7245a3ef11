/* Unit tests for the carry-less-multiply CRC-32: equal to zlib's crc32_z
 * for every length up to 1.5 KB at every alignment within 16 bytes, from
 * assorted starting CRCs, for a few megabytes at once, and when a long
 * message is fed in pieces of odd sizes (the CRC of one piece starting
 * the next, as entries are checked). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include <zlib.h>

#include "../../signers/java/crc32_fast.h"

static unsigned char *pattern(size_t len)
{
	unsigned char *p = malloc(len);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

static void test_every_length_and_alignment(void **state)
{
	(void)state;
	unsigned char *data = pattern(1600);
	for (size_t len = 0; len <= 1500; len++)
		for (size_t off = 0; off < 16; off++) {
			uint32_t start = (uint32_t)(len * 2654435761u + off);
			assert_int_equal(csod_crc32(start, data + off, len),
			                 (uint32_t)crc32_z(start, data + off, len));
		}
	free(data);
}

static void test_megabytes(void **state)
{
	(void)state;
	size_t len = 5 * 1024 * 1024 + 77;
	unsigned char *data = pattern(len);
	assert_int_equal(csod_crc32(0, data, len), (uint32_t)crc32_z(0, data, len));
	/* In pieces: 1, 2, ... 4097 bytes, then the rest. */
	uint32_t crc = 0;
	size_t off = 0, piece = 1;
	while (off < len) {
		size_t n = len - off < piece ? len - off : piece;
		crc = csod_crc32(crc, data + off, n);
		off += n;
		piece = piece * 3 % 4097 + 1;
	}
	assert_int_equal(crc, (uint32_t)crc32_z(0, data, len));
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_length_and_alignment),
	    cmocka_unit_test(test_megabytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
