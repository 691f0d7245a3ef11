/* What the directory and command CA backends share: the CSR csod sends, and
 * the checks on what comes back (a certificate for the order's key, with
 * the codeSigning EKU), and running ca.command under a time limit. */
#ifndef CSOD_CA_EXTERNAL_H
#define CSOD_CA_EXTERNAL_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../lib/error.h"
#include "ca_local.h"

/* A PKCS#10 request for key with subject, asking for keyUsage
 * digitalSignature and EKU codeSigning; PEM, malloc'd. */
char *csod_ca_make_csr(EVP_PKEY *key, const csod_subject *subject, csod_error *err);

/* Reads a CA's answer: PEM certificates, one DER certificate, or a PKCS#7
 * bundle (PEM or DER). Picks the certificate for csr_pem's public key and
 * checks it has the codeSigning EKU and is valid now or later; the other
 * certificates become *chain (may be empty). */
X509 *csod_ca_accept(const unsigned char *data, size_t len, const char *csr_pem,
                     STACK_OF(X509) * *chain, csod_error *err);

/* Runs `sh -c command` with csr on standard input and the environment
 * CSOD_ORDER, CSOD_EMAIL; collects standard output (at most 1 MB) into
 * *out (malloc'd). Its whole process group is killed after timeout_s, when
 * cancel_fd (-1: none) becomes readable, and when it ends (what it left
 * behind). Blocks until then: call it off the event loop. */
int csod_ca_run_command(const char *command, const char *csr, const char *order, const char *email,
                        int timeout_s, int cancel_fd, char **out, size_t *out_len, csod_error *err);

#endif
