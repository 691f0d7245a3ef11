#include "pe_certs.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int csod_pe_certs_parse(const unsigned char *table, size_t len, csod_pe_certs *c, csod_error *err)
{
	memset(c, 0, sizeof *c);
	if (len > CSOD_PE_MAX_CERT_TABLE)
		return csod_fail(err, "the certificate table has an implausible size (%zu)", len);
	c->len = (uint32_t)len;
	uint64_t at = 0;
	while (at < len) {
		if (c->n == CSOD_PE_MAX_CERTS)
			return csod_fail(err, "the certificate table holds more than %d entries",
			                 CSOD_PE_MAX_CERTS);
		if (len - at < 8)
			return csod_fail(
			    err, "the certificate table ends inside the header of entry %zu",
			    c->n + 1);
		csod_pe_cert *e = &c->entry[c->n++];
		e->at = (uint32_t)at;
		e->len = le32(table + at);
		e->revision = (uint16_t)(table[at + 4] | table[at + 5] << 8);
		e->type = (uint16_t)(table[at + 6] | table[at + 7] << 8);
		if (e->len < 8 || e->len > len - at)
			return csod_fail(err,
			                 "certificate table entry %zu has a length (%u) that does "
			                 "not fit the table",
			                 c->n, e->len);
		/* The next entry starts at the next 8-byte boundary; the last
		 * may end the table unpadded. */
		at = (at + e->len + 7) & ~(uint64_t)7;
	}
	return 0;
}

int csod_pe_certs_read(int fd, const csod_pe *pe, csod_pe_certs *c, csod_error *err)
{
	memset(c, 0, sizeof *c);
	if (!pe->cert_table)
		return csod_fail(err, "the file is not signed");
	if (pe->cert_size > CSOD_PE_MAX_CERT_TABLE || pe->cert_size < 8)
		return csod_fail(err, "the certificate table has an implausible size (%u)",
		                 pe->cert_size);
	unsigned char *table = malloc(pe->cert_size);
	if (!table)
		return csod_fail(err, "out of memory");
	if (pread(fd, table, pe->cert_size, pe->cert_table) != (ssize_t)pe->cert_size) {
		free(table);
		return csod_fail_errno(err, "cannot read the certificate table");
	}
	if (csod_pe_certs_parse(table, pe->cert_size, c, err) < 0) {
		free(table);
		return -1;
	}
	c->table = table;
	return 0;
}

void csod_pe_certs_free(csod_pe_certs *c)
{
	free(c->table);
	c->table = NULL;
}

PKCS7 *csod_pe_certs_pkcs7(const csod_pe_certs *c, size_t i, csod_error *err)
{
	const csod_pe_cert *e = &c->entry[i];
	if (e->type != CSOD_WIN_CERT_TYPE_PKCS_SIGNED) {
		csod_fail(err, "certificate table entry %zu is not a PKCS#7 signature (type %u)",
		          i + 1, e->type);
		return NULL;
	}
	const unsigned char *p = c->table + e->at + 8;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)e->len - 8);
	if (!p7)
		csod_fail(err, "the signature in certificate table entry %zu does not parse",
		          i + 1);
	return p7;
}

uint32_t csod_pe_certs_rest(const csod_pe_certs *c)
{
	return c->n > 1 ? c->entry[1].at : c->len;
}
