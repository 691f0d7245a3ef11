/* The attribute certificate table that ends a signed PE file: a run of
 * WIN_CERTIFICATE entries (dwLength, wRevision, wCertificateType, then the
 * certificate), each starting on an 8-byte boundary. Windows reads the
 * first; a file may carry more (Debian's shimx64.efi.signed holds two:
 * Microsoft's 2011 and 2023 UEFI signers), and nesting keeps every one. */
#ifndef CSOD_PE_CERTS_H
#define CSOD_PE_CERTS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/pkcs7.h>

#include "../../lib/error.h"
#include "pe_format.h"

#define CSOD_PE_MAX_CERTS              64
#define CSOD_PE_MAX_CERT_TABLE         (16u << 20)
#define CSOD_WIN_CERT_REVISION_2       0x0200
#define CSOD_WIN_CERT_TYPE_PKCS_SIGNED 0x0002

typedef struct csod_pe_cert {
	uint32_t at;  /* offset in the table */
	uint32_t len; /* dwLength: the header's 8 bytes and the certificate */
	uint16_t revision, type;
} csod_pe_cert;

typedef struct csod_pe_certs {
	unsigned char *table; /* the whole table (csod_pe_certs_read) */
	uint32_t len;
	csod_pe_cert entry[CSOD_PE_MAX_CERTS];
	size_t n;
} csod_pe_certs;

/* Splits the table's len bytes into entries (c->table is not set): each
 * at least its header long, inside the table, the next at the following
 * 8-byte boundary; anything else fails with a reason naming the entry. */
int csod_pe_certs_parse(const unsigned char *table, size_t len, csod_pe_certs *c, csod_error *err);

/* Reads and parses the table of a signed file (pe parsed from fd). */
int csod_pe_certs_read(int fd, const csod_pe *pe, csod_pe_certs *c, csod_error *err);
void csod_pe_certs_free(csod_pe_certs *c);

/* Entry i's PKCS#7 signature; fails for another certificate type. */
PKCS7 *csod_pe_certs_pkcs7(const csod_pe_certs *c, size_t i, csod_error *err);

/* Where the entries after the first start in the table (len when there
 * are none): what nesting copies through, byte for byte. */
uint32_t csod_pe_certs_rest(const csod_pe_certs *c);

#endif
