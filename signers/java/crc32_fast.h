/* CRC-32 (the ZIP one, zlib's crc32) by carry-less multiplication where the
 * CPU has it (PCLMULQDQ), several times faster than zlib's tables: checking
 * every entry's CRC is on the critical path of signing and self-checking a
 * large APK with v1. Same results as crc32_z, which it falls back to. */
#ifndef CSOD_CRC32_FAST_H
#define CSOD_CRC32_FAST_H

#include <stddef.h>
#include <stdint.h>

/* crc32_z(crc, data, len). */
uint32_t csod_crc32(uint32_t crc, const unsigned char *data, size_t len);

#endif
