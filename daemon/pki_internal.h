/* What pki.c and enroll.c share. Internal to the daemon's PKI. */
#ifndef CSOD_PKI_INTERNAL_H
#define CSOD_PKI_INTERNAL_H

#include <limits.h>

#include "keystore.h"
#include "pki.h"

struct csod_pki {
	const csod_config *cfg;
	csod_db *db;
	csod_keystore *keys;
	char spool[PATH_MAX];
	X509 *ca_cert;
	int64_t ca_key_id;
	X509_STORE *trust;
};

/* ca.auto_enroll: an order (state init) for every developer that never had
 * a certificate. Returns the number of refusals (domain rule). */
int csod_enroll_developers(csod_pki *pki, csod_error *err);

/* Works every order in state init: a key, then the local CA issues at once,
 * the directory backend gets ca/pending/<order>.csr, the command backend
 * runs ca.command. */
void csod_enroll_process(csod_pki *pki);

#endif
