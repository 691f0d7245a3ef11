/* A careful, bounds-checked reader of a ZIP archive's central directory over
 * a file descriptor (JAR, WAR, EAR, APK).
 *
 * Our own rather than libzip because signing needs what libzip does not
 * expose: each entry's local header offset, its raw compressed bytes to copy
 * verbatim, the exact end of the entries section, and the APK Signing Block
 * that sits between the entries and the central directory. Everything read
 * from the file is checked against the file's size before use; memory grows
 * with the number of entries (at most 65535 without ZIP64), never with the
 * size of their data, which is streamed. */
#ifndef CSOD_ZIP_READ_H
#define CSOD_ZIP_READ_H

#include <stddef.h>
#include <stdint.h>

#include "../../lib/error.h"

/* Zip bomb limits: an entry whose declared size passes these is refused
 * before reading it, and inflating stops as soon as the actual output passes
 * the declared size. */
#define CSOD_ZIP_MAX_ENTRY_SIZE  (1024u * 1024u * 1024u) /* uncompressed, per entry */
#define CSOD_ZIP_MAX_TOTAL_SIZE  (8ull * 1024u * 1024u * 1024u)
#define CSOD_ZIP_MAX_RATIO       1100u /* deflate cannot do better than ~1032:1 */
#define CSOD_ZIP_MAX_CD_SIZE     (64u * 1024u * 1024u)
#define CSOD_ZIP_APK_SIG_MAGIC   "APK Sig Block 42"
#define CSOD_ZIP_APK_SIG_MAX_LEN (64ull * 1024u * 1024u)

typedef struct csod_zip_entry {
	char *name; /* NUL-terminated; checked: no NUL, "..", absolute path */
	uint16_t name_len;
	uint16_t version_made, version_needed, flags, method, mtime, mdate;
	uint32_t crc, csize, usize;
	uint16_t disk_start, internal_attr;
	uint32_t external_attr;
	uint32_t local_offset;
	unsigned char *cd_extra; /* central directory extra field */
	uint16_t cd_extra_len;
	unsigned char *comment;
	uint16_t comment_len;
	/* Filled from the local header when the archive is opened. */
	uint64_t data_offset; /* first byte of the compressed data */
	uint64_t data_end;    /* past the data (and data descriptor, if any) */
} csod_zip_entry;

typedef struct csod_zip {
	int fd;
	uint64_t size;
	csod_zip_entry *entries;
	size_t n_entries;
	uint64_t cd_offset, cd_size, eocd_offset;
	uint64_t cd_end; /* where the directory ends: the end record, or the ZIP64 one */
	int allow_zip64; /* set by csod_zip_open_zip64 */
	int zip64;       /* the archive has ZIP64 end records */
	/* Where the entries end: the start of the APK Signing Block if there is
	 * one, otherwise cd_offset. */
	uint64_t entries_end;
	int has_apk_sig_block;
	uint64_t apk_sig_block_offset, apk_sig_block_size; /* whole block */
	unsigned char *comment;
	uint16_t comment_len;
} csod_zip;

/* Reads and checks the end record, central directory and every local
 * header. name is used only in error messages. Fails with a one-line reason
 * for: not a ZIP, truncated or inconsistent directory, ZIP64, multi-disk,
 * encrypted entries, bad names (.., absolute, NUL, backslash), duplicates,
 * overlapping entries, zip bomb limits, a corrupt APK Signing Block. */
int csod_zip_open(csod_zip *z, int fd, const char *name, csod_error *err);
void csod_zip_close(csod_zip *z);

/* The same, also taking ZIP64 archives whose values all fit 32 bits (no
 * entry or offset of 4 GiB or more, at most 65535 entries): MSIX packages
 * are written so. */
int csod_zip_open_zip64(csod_zip *z, int fd, const char *name, csod_error *err);

/* Index of the entry with this exact name, or -1. */
long csod_zip_find(const csod_zip *z, const char *name);

/* Streams an entry's uncompressed content to sink in pieces; checks the
 * actual size and CRC-32 against the directory. Stored and deflated only. */
typedef int (*csod_zip_sink)(void *ctx, const unsigned char *data, size_t len);
int csod_zip_read_entry(const csod_zip *z, const csod_zip_entry *e, csod_zip_sink sink, void *ctx,
                        csod_error *err);

/* Reads a whole small entry (at most max bytes uncompressed) into a
 * NUL-terminated malloc'ed buffer. */
int csod_zip_read_small(const csod_zip *z, const csod_zip_entry *e, size_t max, unsigned char **out,
                        size_t *outlen, csod_error *err);

/* pread that fails unless all len bytes at off lie inside the file. */
int csod_zip_pread(const csod_zip *z, void *buf, size_t len, uint64_t off, csod_error *err);

/* Little-endian helpers shared by the writer and the APK code. */
static inline uint16_t csod_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t csod_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t csod_le64(const unsigned char *p)
{
	return (uint64_t)csod_le32(p) | (uint64_t)csod_le32(p + 4) << 32;
}
static inline void csod_put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}
static inline void csod_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static inline void csod_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

#endif
