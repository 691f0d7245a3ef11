#include "pe_format.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define HEADER_READ 4096

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* h holds the first len bytes of a file of file_size bytes. */
static int parse_headers(const unsigned char *h, size_t len, uint64_t file_size, csod_pe *pe,
                         csod_error *err)
{
	memset(pe, 0, sizeof *pe);
	pe->file_size = file_size;
	if (len < 64 || h[0] != 'M' || h[1] != 'Z')
		return csod_fail(err, "not a PE file (no MZ header)");
	uint32_t off = le32(h + 0x3c);
	if (off > len - 24 || off > HEADER_READ - 24)
		return csod_fail(err, "the PE header offset (%u) points past the headers", off);
	if (memcmp(h + off, "PE\0\0", 4) != 0)
		return csod_fail(err, "not a PE file (no PE signature at offset %u)", off);
	uint16_t sections = le16(h + off + 6);
	uint16_t opt_size = le16(h + off + 20);
	uint32_t opt = off + 24;
	if (opt + 2 > len || opt_size < 2)
		return csod_fail(err, "truncated optional header");
	uint16_t magic = le16(h + opt);
	if (magic != 0x10b && magic != 0x20b)
		return csod_fail(err, "unknown optional header magic 0x%x", magic);
	pe->pe32_plus = magic == 0x20b;
	uint32_t count_at = opt + (pe->pe32_plus ? 108 : 92);
	uint32_t dirs = opt + (pe->pe32_plus ? 112 : 96);
	if (count_at + 4 > len || (uint64_t)opt + opt_size > len || dirs > opt + opt_size)
		return csod_fail(err, "truncated optional header");
	uint32_t ndirs = le32(h + count_at);
	if (ndirs < 5 || (uint64_t)dirs + (uint64_t)ndirs * 8 > (uint64_t)opt + opt_size)
		return csod_fail(err, "the optional header has no certificate-table entry");
	pe->pe_offset = off;
	pe->checksum_offset = opt + 64;
	pe->certdir_offset = dirs + 4 * 8;
	pe->cert_table = le32(h + pe->certdir_offset);
	pe->cert_size = le32(h + pe->certdir_offset + 4);
	pe->size_of_headers = le32(h + opt + 60);
	uint64_t section_table = (uint64_t)opt + opt_size;
	if (section_table + (uint64_t)sections * 40 > len && len >= HEADER_READ)
		return csod_fail(err, "the section table lies past the first %d bytes",
		                 HEADER_READ);
	if (section_table + (uint64_t)sections * 40 > pe->file_size)
		return csod_fail(err, "the section table points past the end of the file");
	/* Sections must lie inside the file. */
	for (uint32_t i = 0; i < sections && section_table + (i + 1) * 40ULL <= len; i++) {
		const unsigned char *s = h + section_table + i * 40;
		uint64_t raw_size = le32(s + 16), raw_ptr = le32(s + 20);
		if (raw_size && raw_ptr + raw_size > pe->file_size)
			return csod_fail(err, "section %u points past the end of the file", i + 1);
	}
	if (pe->cert_table || pe->cert_size) {
		if ((uint64_t)pe->cert_table + pe->cert_size != pe->file_size ||
		    pe->cert_size < 8 || pe->cert_table < pe->size_of_headers)
			return csod_fail(err,
			                 "the certificate table (offset %u, size %u) does not "
			                 "end the file",
			                 pe->cert_table, pe->cert_size);
	}
	return 0;
}

int csod_pe_parse_buffer(const unsigned char *data, size_t len, csod_pe *pe, csod_error *err)
{
	return parse_headers(data, len < HEADER_READ ? len : HEADER_READ, len, pe, err);
}

int csod_pe_parse(int fd, csod_pe *pe, csod_error *err)
{
	off_t size = lseek(fd, 0, SEEK_END);
	if (size < 0)
		return csod_fail_errno(err, "cannot size the file");
	if ((uint64_t)size > UINT32_MAX)
		return csod_fail(err, "PE files over 4 GB cannot be signed (32-bit offsets)");
	unsigned char h[HEADER_READ];
	ssize_t n = pread(fd, h, sizeof h, 0);
	if (n < 0)
		return csod_fail_errno(err, "cannot read the headers");
	return parse_headers(h, (size_t)n, (uint64_t)size, pe, err);
}

/* The sum of the little-endian 16-bit words of p[0, n), n even, in a wide
 * accumulator: four words per 64-bit load. */
static uint64_t sum_words(const unsigned char *p, size_t n)
{
	uint64_t sum = 0;
	size_t i = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; i + 8 <= n; i += 8) {
		uint64_t x;
		memcpy(&x, p + i, 8);
		sum += (x & 0xffff) + ((x >> 16) & 0xffff) + ((x >> 32) & 0xffff) + (x >> 48);
	}
#endif
	for (; i + 1 < n; i += 2)
		sum += (uint64_t)p[i] | (uint64_t)p[i + 1] << 8;
	return sum;
}

uint64_t csod_pe_sum_at(uint64_t offset, const unsigned char *p, size_t len)
{
	uint64_t sum = 0;
	size_t i = 0;
	if (offset & 1 && len) { /* the high byte of the word before */
		sum += (uint64_t)p[0] << 8;
		i = 1;
	}
	sum += sum_words(p + i, (len - i) & ~(size_t)1);
	if ((len - i) & 1) /* the low byte of the last word */
		sum += p[len - 1];
	return sum;
}

/* The carries are folded once at the end, which gives the same result as
 * folding after every word (the sum is the same modulo 0xffff, and both are
 * non-zero unless every word is zero). */
uint32_t csod_pe_checksum_of(uint64_t word_sum, uint64_t file_size)
{
	while (word_sum >> 16)
		word_sum = (word_sum & 0xffff) + (word_sum >> 16);
	return (uint32_t)(word_sum + file_size);
}
