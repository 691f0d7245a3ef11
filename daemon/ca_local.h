/* The built-in CA: a self-signed root whose key lives in the keystore, and
 * the code-signing certificates it issues. For in-house use and the demo;
 * an organisation with its own PKI uses the directory or command backend. */
#ifndef CSOD_CA_LOCAL_H
#define CSOD_CA_LOCAL_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../lib/error.h"

/* A self-signed CA certificate for key, valid `years`. */
X509 *csod_ca_make_root(EVP_PKEY *key, const char *organization, int years, csod_error *err);

typedef struct csod_subject {
	const char *country, *organization, *department, *common_name, *email;
	const char *contact; /* the contact email, when given: subjectAltName rfc822Name */
} csod_subject;

/* subjectAltName with the contact email as an rfc822Name; NULL (nothing
 * to add) when there is none, or on failure (*failed set). */
X509_EXTENSION *csod_contact_ext(const csod_subject *subject, int *failed);

/* Adds the subject's non-empty fields to name (C, O, OU, CN, emailAddress). */
void csod_name_fill(X509_NAME *name, const csod_subject *subject);

/* A code-signing certificate (EKU codeSigning, keyUsage digitalSignature,
 * CA:FALSE, SKI/AKI, random serial) for subject_key, signed by the CA. */
X509 *csod_ca_issue(X509 *ca_cert, EVP_PKEY *ca_key, EVP_PKEY *subject_key,
                    const csod_subject *subject, int years, csod_error *err);

/* A CRL listing the given serials (hex), signed by the CA. */
X509_CRL *csod_ca_make_crl(X509 *ca_cert, EVP_PKEY *ca_key, char **revoked_serials,
                           csod_error *err);

/* 1 if cert carries the codeSigning extended key usage. */
int csod_x509_code_signing(X509 *cert);

/* PEM of a certificate, malloc'd. */
char *csod_x509_pem(X509 *cert);
X509 *csod_x509_from_pem(const char *pem);

#endif
