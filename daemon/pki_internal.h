/* What pki.c and enroll.c share. Internal to the daemon's PKI. */
#ifndef CSOD_PKI_INTERNAL_H
#define CSOD_PKI_INTERNAL_H

#include <limits.h>

#include <openssl/x509.h>

#include "ca_command_jobs.h"
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
	csod_ca_jobs *ca_jobs; /* ca.command runs */
	int resumed;           /* requested command orders of a past run resubmitted */
};

/* ca.auto_enroll: an order (state init) for every developer that never had
 * a certificate. Returns the number of refusals (domain rule). */
int csod_enroll_developers(csod_pki *pki, csod_error *err);

/* Works every order in state init: a key, then the local CA issues at once,
 * the directory backend gets ca/pending/<order>.csr, the command backend's
 * order goes to a thread that runs ca.command (the order stays requested
 * until its answer is taken). */
void csod_enroll_process(csod_pki *pki);

/* The order is issued: certificate, serial, validity, chain; audited, and
 * the admins in scope are told. how names the CA for the log. */
int csod_order_issued(csod_pki *pki, int64_t id, X509 *cert, STACK_OF(X509) * chain,
                      const char *how);
/* The order is failed with reason; audited and logged. */
void csod_order_failed(csod_pki *pki, int64_t id, const char *reason);

/* Hands a requested order of the command backend to its thread pool. */
int csod_enroll_command_submit(csod_pki *pki, int64_t id, const char *order_no, const char *csr,
                               const char *email, csod_error *err);
/* Once, at the first tick: submits again the command backend's orders left
 * requested by the last run (a stop or a crash interrupted their command). */
void csod_enroll_command_resume(csod_pki *pki);

#endif
