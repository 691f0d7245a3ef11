/* The parts of the Microsoft Cabinet format Authenticode touches: the
 * CFHEADER with its reserved area (which holds the signature's offset and
 * size), the CFFOLDER table, the CFFILE entries, and the cabinet hash.
 * Every offset and count is checked against the file size before use. */
#ifndef CSOD_CAB_FORMAT_H
#define CSOD_CAB_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "../../lib/error.h"

#define CAB_HEADER_SIZE     36 /* the CFHEADER without optional fields */
#define CAB_RESERVE_FIELDS  4  /* cbCFHeader, cbCFFolder, cbCFData */
#define CAB_SIG_RESERVE     20 /* the abReserve bytes of a signed cabinet */
#define CAB_SIGNED_HEADER   (CAB_HEADER_SIZE + CAB_RESERVE_FIELDS + CAB_SIG_RESERVE)
#define CAB_OFF_CB_CABINET  8
#define CAB_OFF_COFF_FILES  16
#define CAB_OFF_FLAGS       30
#define CAB_OFF_SIG_OFFSET  44
#define CAB_OFF_SIG_SIZE    48
#define CAB_FOLDER_SIZE     8
#define CAB_FLAG_RESERVE    0x0004
#define CAB_MAX_SIGNATURE   (16u << 20)
#define CAB_SIG_AREA_MARKER 0x00100000u /* first 4 bytes of a signature reserve */

typedef struct csod_cab {
	uint64_t file_size;
	uint32_t cb_cabinet; /* the cabinet's bytes: the whole file, or up to the signature */
	uint32_t coff_files; /* the first CFFILE entry */
	uint16_t n_folders;
	uint16_t n_files;
	uint16_t flags;
	uint32_t folders_at;    /* the CFFOLDER table: 36, or 60 after a signature reserve */
	int has_signature_area; /* the 20-byte reserve that says where the signature is */
	uint32_t sig_offset;    /* 0 when unsigned */
	uint32_t sig_size;
} csod_cab;

/* Parses and checks the cabinet in fd. */
int csod_cab_parse(int fd, csod_cab *cab, csod_error *err);

/* Same, over a buffer (for fuzzing). */
int csod_cab_parse_buffer(const unsigned char *data, size_t len, csod_cab *cab, csod_error *err);

#endif
