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

/* The Authenticode image hash over [0, end): everything but the checksum
 * field and the certificate-table entry, read once in chunks. */
int csod_pe_image_hash(int fd, const csod_pe *pe, uint64_t end, const EVP_MD *md,
                       unsigned char *out, unsigned *out_len, csod_error *err);

/* The PE checksum of the whole file (its own field counted as zero). */
int csod_pe_checksum(int fd, const csod_pe *pe, uint32_t *out, csod_error *err);

#endif
