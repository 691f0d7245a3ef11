/* Windows security catalogs (.cat): a DER PKCS#7 SignedData whose
 * encapsulated content is a Certificate Trust List (szOID_CTL,
 * 1.3.6.1.4.1.311.10.1) naming each member file by its hash. Unlike PE or
 * CAB, the signature is the whole file: signing one replaces (or nests
 * into) the SignedData's signer around the same CTL. */
#ifndef CSOD_CAT_FORMAT_H
#define CSOD_CAT_FORMAT_H

#include <stddef.h>

#include <openssl/pkcs7.h>

#include "../../lib/error.h"

/* Catalogs are small (kilobytes to a few megabytes): read whole, and
 * refused past this. */
#define CSOD_CAT_MAX (64u << 20)

typedef struct csod_cat {
	PKCS7 *p7;                /* the whole file, parsed */
	const unsigned char *ctl; /* the CTL's DER, inside p7 */
	size_t ctl_len;
	int n_members; /* the CTL's trusted subjects (catalog members) */
	int n_signers; /* 0 for an unsigned catalog */
} csod_cat;

/* 1 if head (the first len bytes of a file) opens a DER SignedData whose
 * content type is szOID_CTL: enough to tell a catalog by content. */
int csod_cat_sniff(const unsigned char *head, size_t len);

/* Parses a whole catalog: one DER PKCS#7 SignedData, nothing after it,
 * its content a CTL that parses. Fails with the reason; on success
 * csod_cat_free() it. */
int csod_cat_parse_buffer(const unsigned char *buf, size_t len, csod_cat *cat, csod_error *err);

void csod_cat_free(csod_cat *cat);

#endif
