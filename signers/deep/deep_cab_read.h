/* Reading a cabinet's files for deep signing: the tables, the rules that
 * refuse a cabinet outright (naming the file), and a folder's content
 * unpacked. The layout itself is checked first by the CAB engine's own
 * parser (authenticode/cab_format.h). */
#ifndef CSOD_DEEP_CAB_READ_H
#define CSOD_DEEP_CAB_READ_H

#include <stdint.h>

#include "../authenticode/cab_format.h"

#define CSOD_CAB_BLOCK     32768u /* uncompressed bytes in a full CFDATA block */
#define CSOD_CAB_NONE      0
#define CSOD_CAB_MSZIP     1
#define CSOD_CAB_ATTR_UTF8 0x80 /* the name is UTF-8, not a code page */
#define CSOD_CAB_NAME_MAX  256

typedef struct csod_dcab_folder {
	uint32_t data_at; /* the first CFDATA block */
	uint16_t blocks;
	uint16_t type;  /* typeCompress as written (CSOD_CAB_NONE or _MSZIP) */
	uint64_t usize; /* the folder's bytes unpacked: the blocks' cbUncomp */
	uint64_t csize; /* its blocks' cbData */
} csod_dcab_folder;

typedef struct csod_dcab_file {
	uint32_t size, offset; /* in its folder, unpacked */
	uint16_t folder, date, time, attribs;
	char name[CSOD_CAB_NAME_MAX + 1];
} csod_dcab_file;

typedef struct csod_dcab {
	int fd;
	csod_cab cab;
	uint16_t set_id, icabinet;
	csod_dcab_folder *folders;
	csod_dcab_file *files;
} csod_dcab;

/* Parses the cabinet in fd and refuses, naming the file: LZX or Quantum
 * folders, names with path tricks ('..', '.', empty parts, absolute or
 * drive names, control characters), duplicate names (as Windows compares
 * them: case and separator blind), files not listed folder by folder or
 * out of order or overlapping in their folder, a folder that shrinks more than CSOD_DEEP_MAX_RATIO,
 * and files that together unpack past max_size (0: no limit of ours). */
int csod_dcab_open(csod_dcab *c, int fd, int64_t max_size, csod_error *err);

/* Folder i's content, unpacked, written to out_fd from offset 0. */
int csod_dcab_unpack(const csod_dcab *c, uint16_t i, int out_fd, csod_error *err);

void csod_dcab_close(csod_dcab *c);

#endif
