/* Keys and certificates as the daemon sees them: the keystore (encrypted in
 * the database, or on a PKCS#11 token), the CA backends (local, directory,
 * command), enrollment and the policy that picks the certificate a request
 * is signed with. */
#ifndef CSOD_PKI_H
#define CSOD_PKI_H

#include <stdint.h>

#include "../signers/signer.h"
#include "config.h"
#include "db.h"

typedef struct csod_pki csod_pki;

/* Opens the keystore named by cfg->keys (reading the master key file, which
 * it creates with mode 0400 if missing and refuses if group/other can read
 * it; or loading the PKCS#11 module). */
csod_pki *csod_pki_open(const csod_config *cfg, csod_db *db, csod_error *err);
void csod_pki_close(csod_pki *pki);

/* After a config reload. */
void csod_pki_set_config(csod_pki *pki, const csod_config *cfg);

/* Called at start-up and from a timer: creates the local CA on first use,
 * enrolls developers that have no certificate when ca.auto_enroll is on,
 * starts the command backend's orders (answered later, see
 * csod_pki_take_answers), collects the directory backend's, marks
 * expired ones. Returns 0, or -1 with err set for a problem worth logging
 * (it keeps going past single failures). */
int csod_pki_tick(csod_pki *pki, csod_error *err);

/* The command backend's answers: the eventfd to watch (valid from open to
 * close), and what to call when it is readable. Each answer is checked
 * (key, codeSigning EKU, expiry) and its order issued or failed. */
int csod_pki_fd(const csod_pki *pki);
void csod_pki_take_answers(csod_pki *pki);

/* Collects certificates that appeared in ca/issued/ for requested orders
 * (directory backend); cheap, called on every periodic scan. */
void csod_pki_collect(csod_pki *pki);

/* The seed's domain rule: the email's domain must be one of the
 * organization's `domains` (an organization without domains accepts any). */
int csod_domain_allowed(const csod_config *cfg, const char *organization, const char *email);

/* The identity a request of developer in organization is signed with: an
 * issued certificate enabled for code signing on demand (csod), with the
 * codeSigning EKU, not expired, not revoked. Fails with the reason
 * otherwise: 1 when the developer's newest CSoD-enabled certificate in the
 * organization is on order (init or requested), so a
 * request of theirs can wait for it, -1 for anything else. chain_pem (if
 * non-NULL) receives the PEM of the certificate and its chain, for the
 * outbox's chain.pem (free()). */
int csod_pki_identity(csod_pki *pki, const char *developer, const char *organization,
                      csod_identity *out, int64_t *certificate_id, char **chain_pem,
                      csod_error *err);

/* The roots a self-check trusts (the local CA and configured roots). The
 * store belongs to pki. */
X509_STORE *csod_pki_trust(csod_pki *pki);

void csod_identity_release(csod_identity *id);

#endif
