/* Detached Authenticode signatures (csod-sign --extract-signature and
 * --attach-signature): a signature travels as its PKCS#7 SignedData in
 * DER, byte for byte as the file holds it, which is what osslsigncode's
 * extract-signature writes and its attach-signature reads. */
#ifndef CSOD_DETACHED_H
#define CSOD_DETACHED_H

#include <stddef.h>

#include "../../lib/error.h"

/* The signature stored in a file's n bytes at p (which may be followed by
 * the bytes that pad it): checked to be a PKCS#7 SignedData, copied into
 * *der (malloc'ed) without the padding. */
int csod_detached_take(const unsigned char *p, size_t n, unsigned char **der, size_t *der_len,
                       csod_error *err);

/* A signature to attach: exactly one PKCS#7 SignedData in DER, nothing
 * after it. */
int csod_detached_check(const unsigned char *der, size_t len, csod_error *err);

#endif
