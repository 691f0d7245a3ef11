/* The two MSI tables that describe a file's content, rewritten for files
 * signed inside an MSI's embedded cabinet: File.FileSize and the
 * MsiFileHash row (the MD5 Windows Installer keeps for unversioned files,
 * compared against an installed copy to decide whether to replace it).
 * Both are fixed-width integer columns, so each table stream keeps its
 * size; the string pool is read, never written. */
#ifndef CSOD_DEEP_MSI_TABLES_H
#define CSOD_DEEP_MSI_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "../authenticode/cfb.h"

/* A file signed inside: its File table key (its name in the cabinet), its
 * new size and MD5. */
typedef struct csod_msi_file_fix {
	const char *key;
	uint32_t size;
	unsigned char md5[16];
} csod_msi_file_fix;

/* A table stream written again: its id in the source (to drop) and its
 * new content under the same name. */
typedef struct csod_msi_table_out {
	uint32_t id;
	unsigned char name[64];
	size_t name_len;
	unsigned char *data; /* malloc'd */
	size_t len;
} csod_msi_table_out;

/* File (and MsiFileHash, where the MSI has one) with the rows of fixes
 * rewritten, into out[0..*n_out). Fails, naming the key, when a fix has no
 * File row. Free each out[i].data. */
int csod_msi_fix_tables(const csod_cfb *c, const csod_msi_file_fix *fixes, size_t n,
                        csod_msi_table_out out[2], size_t *n_out, csod_error *err);

/* The MSI stream name of a table (or, table 0, of another stream) as the
 * compound file stores it, UTF-16LE with its NUL, into out (64 bytes);
 * its length in bytes, or 0 when it does not fit. */
size_t csod_msi_stream_name(const char *name, int table, unsigned char out[64]);

#define CSOD_MSI_NAME_MAX 256

/* Calls each(ctx, key, name) for every File table row: its key (the name
 * of its file in the cabinet) and its long file name. */
int csod_msi_file_names(const csod_cfb *c,
                        void (*each)(void *ctx, const char *key, const char *name), void *ctx,
                        csod_error *err);

#endif
