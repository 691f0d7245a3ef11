/* CRC-32 by folding with carry-less multiplication; see crc32_fast.h.
 *
 * The CRC is the remainder of the message, as a polynomial over GF(2),
 * modulo P = x^32 + ... (0x04c11db7). ZIP's CRC is bit-reflected: the first
 * byte's lowest bit is the highest power. So a 16-byte register, loaded
 * little-endian, holds bit i as the coefficient of x^(127 - i) of that
 * block; its low 64 bits are the high-degree half H, the high 64 bits the
 * low-degree half L.
 *
 * Folding a block X forward by F bits (onto the block F bits later) keeps
 * the remainder: X * x^F = H * x^(64 + F) + L * x^F, and each power may be
 * taken mod P, giving a product of at most 96 bits. A carry-less multiply
 * of two reflected 64-bit values yields their product times x (the result
 * is 127 bits, read as 128), hence the constants x^(F + 63) and x^(F - 1)
 * mod P. They are computed here, not copied. Four registers fold 64 bytes
 * at a time, then fold into one; that one and the last bytes (fewer than
 * 16) go through zlib, whose CRC of them equals the message's. */
#include "crc32_fast.h"

#include <string.h>

#include <zlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <pthread.h>

#define CRC_POLY 0x104c11db7ull /* P, with its x^32 term */

/* x^n mod P, as a reflected 64-bit operand (x^d at bit 63 - d). */
static uint64_t power_mod_p(unsigned n)
{
	uint64_t r = 1;
	for (unsigned i = 0; i < n; i++) {
		r <<= 1;
		if (r & (1ull << 32))
			r ^= CRC_POLY;
	}
	uint64_t reflected = 0;
	for (unsigned d = 0; d < 32; d++)
		if (r >> d & 1)
			reflected |= 1ull << (63 - d);
	return reflected;
}

static uint64_t k512_high, k512_low, k128_high, k128_low;
static int have_clmul;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void set_up(void)
{
	k512_high = power_mod_p(512 + 63);
	k512_low = power_mod_p(512 - 1);
	k128_high = power_mod_p(128 + 63);
	k128_low = power_mod_p(128 - 1);
	__builtin_cpu_init();
	have_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

__attribute__((target("pclmul,sse4.1"))) static __m128i fold(__m128i x, __m128i k)
{
	return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

/* len >= 64. Returns the CRC of data[0, len). */
__attribute__((target("pclmul,sse4.1"))) static uint32_t
crc_clmul(uint32_t crc, const unsigned char *p, size_t len)
{
	__m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
	__m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
	__m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
	/* zlib's CRC starts from ~crc: the same as XORing it into the first
	 * four bytes and starting from 0. */
	x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)~crc));
	p += 64;
	len -= 64;
	const __m128i k512 = _mm_set_epi64x((long long)k512_low, (long long)k512_high);
	const __m128i k128 = _mm_set_epi64x((long long)k128_low, (long long)k128_high);
	while (len >= 64) {
		x0 = _mm_xor_si128(fold(x0, k512),
		                   _mm_loadu_si128((const __m128i *)(const void *)p));
		x1 = _mm_xor_si128(fold(x1, k512),
		                   _mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
		x2 = _mm_xor_si128(fold(x2, k512),
		                   _mm_loadu_si128((const __m128i *)(const void *)(p + 32)));
		x3 = _mm_xor_si128(fold(x3, k512),
		                   _mm_loadu_si128((const __m128i *)(const void *)(p + 48)));
		p += 64;
		len -= 64;
	}
	x1 = _mm_xor_si128(x1, fold(x0, k128));
	x2 = _mm_xor_si128(x2, fold(x1, k128));
	x3 = _mm_xor_si128(x3, fold(x2, k128));
	while (len >= 16) {
		x3 = _mm_xor_si128(fold(x3, k128),
		                   _mm_loadu_si128((const __m128i *)(const void *)p));
		p += 16;
		len -= 16;
	}
	/* The register now stands for everything read, from a CRC of 0 (that
	 * is, zlib's ~0); zlib finishes it and the last bytes. */
	unsigned char last[16];
	_mm_storeu_si128((__m128i *)(void *)last, x3);
	uLong c = crc32_z(0xffffffffu, last, sizeof last);
	return (uint32_t)crc32_z(c, p, len);
}

uint32_t csod_crc32(uint32_t crc, const unsigned char *data, size_t len)
{
	pthread_once(&once, set_up);
	if (have_clmul && len >= 256)
		return crc_clmul(crc, data, len);
	return (uint32_t)crc32_z(crc, data, len);
}

#else

uint32_t csod_crc32(uint32_t crc, const unsigned char *data, size_t len)
{
	return (uint32_t)crc32_z(crc, data, len);
}

#endif
