/* Compound File Binary (MS-CFB), the container of MSI files: a reader that
 * checks every sector number and chain before use, and a writer that
 * produces a fresh compound file from the streams of another plus new ones.
 *
 * The reader keeps the FAT, MiniFAT and directory in memory (4 bytes per
 * sector: under 1% of the file) and reads stream contents on demand in
 * chunks with pread, so memory does not grow with the streams' sizes. */
#ifndef CSOD_CFB_H
#define CSOD_CFB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../lib/error.h"

#define CFB_NOSTREAM   0xffffffffu
#define CFB_ENDOFCHAIN 0xfffffffeu
#define CFB_FATSECT    0xfffffffdu
#define CFB_DIFSECT    0xfffffffcu
#define CFB_MAXREGSECT 0xfffffffau

#define CFB_TYPE_UNUSED  0
#define CFB_TYPE_STORAGE 1
#define CFB_TYPE_STREAM  2
#define CFB_TYPE_ROOT    5

#define CFB_MINI_CUTOFF 4096u
#define CFB_MINI_SECTOR 64u
#define CFB_DIRENT_SIZE 128u

extern const unsigned char csod_cfb_magic[8];

/* One 128-byte directory entry, decoded. raw keeps the bytes so that the
 * writer can copy CLSID, state bits and times unchanged. */
typedef struct csod_cfb_entry {
	unsigned char raw[CFB_DIRENT_SIZE];
	uint16_t name_len; /* bytes, with the UTF-16 NUL */
	uint8_t type;
	uint32_t left, right, child;
	uint32_t start;
	uint32_t size;   /* stream size (the low 32 bits, see cfb_read.c) */
	uint32_t parent; /* the storage holding it; CFB_NOSTREAM for the root */
	int reachable;   /* found by walking the tree from the root */
} csod_cfb_entry;

typedef struct csod_cfb {
	int fd;
	uint64_t file_size;
	uint16_t major;       /* 3 or 4 */
	uint32_t sector_size; /* 512 or 4096 */
	uint32_t n_sectors;   /* sectors the file holds (the header excluded) */
	uint32_t *fat;
	uint32_t fat_len;
	uint32_t *minifat;
	uint32_t minifat_len;
	uint32_t *mini_sectors; /* the regular sectors holding the mini stream */
	uint32_t mini_sectors_len;
	uint32_t mini_size; /* bytes of mini stream (the root entry's size) */
	csod_cfb_entry *dir;
	uint32_t n_dir;
	uint32_t *kids;       /* reachable entries grouped by parent storage */
	uint32_t *kids_start; /* n_dir + 1 offsets into kids */
} csod_cfb;

/* Parses and checks the whole structure of the compound file in fd: the
 * header, DIFAT, FAT, MiniFAT, directory tree and every stream's chain.
 * Fails with a one-line reason. Close with csod_cfb_close(). */
int csod_cfb_open(csod_cfb *c, int fd, csod_error *err);

/* Part of csod_cfb_open (cfb_tree.c): checks the directory tree once the
 * entries are loaded and indexes each storage's children. */
int csod_cfb_index_tree(csod_cfb *c, csod_error *err);
void csod_cfb_close(csod_cfb *c);

/* Feeds the content of stream entry id to sink in chunks. */
typedef int (*csod_cfb_sink)(void *ctx, const unsigned char *p, size_t n, csod_error *err);
int csod_cfb_read_stream(const csod_cfb *c, uint32_t id, csod_cfb_sink sink, void *ctx,
                         csod_error *err);

/* The entry named name (UTF-16LE with its NUL, name_len bytes) directly
 * in storage parent, or CFB_NOSTREAM. */
uint32_t csod_cfb_find(const csod_cfb *c, uint32_t parent, const unsigned char *name,
                       size_t name_len);

/* The children of storage id, in no particular order; *n set to their
 * number. */
const uint32_t *csod_cfb_children(const csod_cfb *c, uint32_t id, uint32_t *n);

/* A stream to add to the written file, in the root storage: from memory,
 * or (from_fd set) the first len bytes of fd, for a large one (the
 * cabinet of an MSI signed deep). */
typedef struct csod_cfb_new_stream {
	const unsigned char *name; /* UTF-16LE with its NUL */
	size_t name_len;
	const unsigned char *data;
	size_t len;
	int from_fd;
	int fd;
} csod_cfb_new_stream;

/* Writes to out (empty, read-write) a compound file with the same sector
 * size holding every reachable storage and stream of src except the
 * entries in drop (ids, n_drop of them), each stream's bytes unchanged,
 * plus the streams in add. */
int csod_cfb_write(int out, const csod_cfb *src, const uint32_t *drop, size_t n_drop,
                   const csod_cfb_new_stream *add, size_t n_add, csod_error *err);

#endif
