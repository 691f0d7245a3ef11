/* The parts of the PE/COFF format Authenticode touches: where the checksum
 * and the certificate-table directory entry are, where the signature is,
 * and the two computations over the file (image hash, PE checksum). Every
 * offset is checked against the file size before it is used. */
#ifndef CSOD_PE_FORMAT_H
#define CSOD_PE_FORMAT_H

#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "../../lib/error.h"

typedef struct csod_pe {
	uint64_t file_size;
	uint32_t pe_offset;       /* "PE\0\0" */
	int pe32_plus;            /* 0x20b optional header */
	uint32_t checksum_offset; /* the CheckSum field */
	uint32_t certdir_offset;  /* the certificate-table directory entry (8 bytes) */
	uint32_t cert_table;      /* its VirtualAddress: a file offset; 0 if unsigned */
	uint32_t cert_size;
	uint32_t size_of_headers;
} csod_pe;

/* Parses and checks the headers of the PE file in fd. */
int csod_pe_parse(int fd, csod_pe *pe, csod_error *err);

/* Same, over a buffer (for fuzzing). */
int csod_pe_parse_buffer(const unsigned char *data, size_t len, csod_pe *pe, csod_error *err);

/* The checksum's sum of len bytes that lie at offset in the file. */
uint64_t csod_pe_sum_at(uint64_t offset, const unsigned char *p, size_t len);

/* The PE checksum from the sum of a whole file's words (checksum field as
 * zero): the sum with end-around carry, plus the file's length. */
uint32_t csod_pe_checksum_of(uint64_t word_sum, uint64_t file_size);

#endif
