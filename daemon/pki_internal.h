/* What pki.c and enroll.c share. Internal to the daemon's PKI. */
#ifndef CSOD_PKI_INTERNAL_H
#define CSOD_PKI_INTERNAL_H

#include <limits.h>

#include "keystore.h"
#include "pki.h"

#define PKI_CACHE_SLOTS 32

struct csod_pki {
	const csod_config *cfg;
	csod_db *db;
	csod_keystore *keys;
	char spool[PATH_MAX];
	X509 *ca_cert;
	int64_t ca_key_id;
	X509_STORE *trust;
	/* Decoded certificates and their chains, by certificate id: a row's
	 * certificate never changes once issued, and decoding it for every
	 * request cost more than the rest of the dispatch. */
	struct pki_cached {
		int64_t id;
		X509 *cert;
		STACK_OF(X509) * chain;
		char *chain_pem;
	} cache[PKI_CACHE_SLOTS];
	unsigned cache_next;
};

/* ca.auto_enroll: an order (state init) for every developer that never had
 * a certificate. Returns the number of refusals (domain rule). */
int csod_enroll_developers(csod_pki *pki, csod_error *err);

/* Works every order in state init: a key, then the local CA issues at once,
 * the directory backend gets ca/pending/<order>.csr, the command backend
 * runs ca.command. */
void csod_enroll_process(csod_pki *pki);

#endif
