/* Writing a cabinet again for deep signing: each folder's content packed
 * into CFDATA blocks as the input's folder was (stored, or MSZIP: every
 * block its own deflate stream, which any MSZIP reader takes), then the
 * header, folder and file tables and the blocks, with the input's set
 * number, names, dates, times and attributes. No reserved areas: the CAB
 * engine adds its signature area when it signs the result. */
#ifndef CSOD_DEEP_CAB_WRITE_H
#define CSOD_DEEP_CAB_WRITE_H

#include "deep_cab_read.h"

typedef struct csod_dcab_packed {
	int data_fd;       /* the CFDATA blocks, from offset 0 */
	uint64_t data_len; /* their bytes, headers included */
	uint16_t blocks;
	uint16_t type; /* typeCompress, as the input's folder */
} csod_dcab_packed;

/* Packs len bytes of content_fd (from offset 0) into p->data_fd as
 * p->type says; sets data_len and blocks. */
int csod_dcab_pack(int content_fd, uint64_t len, csod_dcab_packed *p, csod_error *err);

/* The cabinet into out_fd: in's header fields, in's file entries with the
 * sizes and offsets of files[], and folders[] (in's folder count) packed. */
int csod_dcab_write(int out_fd, const csod_dcab *in, const csod_dcab_file *files,
                    const csod_dcab_packed *folders, csod_error *err);

#endif
