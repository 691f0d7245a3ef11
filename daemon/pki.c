/* Certificates and their keys: the local CA, enrollment, the signing-time
 * policy, and the trust store the self-check uses. */
#include "pki.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "audit.h"
#include "ca_local.h"
#include "developers.h"
#include "keystore.h"
#include "pki_internal.h"
#include "notify.h"
#include "request.h"

static void resolve_spool(const csod_config *cfg, char *out, size_t len)
{
	if (!realpath(cfg->spool, out))
		snprintf(out, len, "%s", cfg->spool);
}

csod_pki *csod_pki_open(const csod_config *cfg, csod_db *db, csod_error *err)
{
	csod_pki *pki = calloc(1, sizeof *pki);
	if (!pki) {
		csod_fail(err, "out of memory");
		return NULL;
	}
	pki->cfg = cfg;
	pki->db = db;
	resolve_spool(cfg, pki->spool, sizeof pki->spool);
	pki->keys = csod_keystore_open(cfg, pki->spool, db, err);
	pki->trust = X509_STORE_new();
	/* Always: a reload may switch to the command backend. */
	pki->ca_jobs = csod_ca_jobs_start();
	if (!pki->keys || !pki->trust || !pki->ca_jobs) {
		if (pki->keys && pki->trust)
			csod_fail(err, "cannot start the threads for ca.command");
		csod_pki_close(pki);
		return NULL;
	}
	return pki;
}

void csod_pki_close(csod_pki *pki)
{
	if (!pki)
		return;
	csod_ca_jobs_stop(pki->ca_jobs);
	/* Certificates first: one made for a token key holds that key (libp11's
	 * RSA method) as its public key, and freeing it after the token is
	 * closed reads the freed PKCS#11 context. */
	for (unsigned i = 0; i < PKI_CACHE_SLOTS; i++) {
		X509_free(pki->cache[i].cert);
		sk_X509_pop_free(pki->cache[i].chain, X509_free);
		free(pki->cache[i].chain_pem);
	}
	X509_free(pki->ca_cert);
	X509_STORE_free(pki->trust);
	csod_keystore_close(pki->keys);
	free(pki);
}

void csod_pki_set_config(csod_pki *pki, const csod_config *cfg)
{
	pki->cfg = cfg;
}

X509_STORE *csod_pki_trust(csod_pki *pki)
{
	return pki->trust;
}

void csod_identity_release(csod_identity *id)
{
	EVP_PKEY_free(id->key);
	X509_free(id->cert);
	sk_X509_pop_free(id->chain, X509_free);
	memset(id, 0, sizeof *id);
}

static int publish_ca(csod_pki *pki, const char *pem, csod_error *err)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	if (csod_path(path, sizeof path, "%s/ca/ca.pem", pki->spool) < 0 ||
	    csod_path(tmp, sizeof tmp, "%s/tmp", pki->spool) < 0)
		return csod_fail(err, "%s: spool path too long", pki->spool);
	return csod_write_file_atomic(tmp, path, pem, strlen(pem), 0644, err);
}

/* The CA recorded in the database, if any, into pki. */
static int load_ca(csod_pki *pki, csod_error *err)
{
	csod_stmt *st = csod_db_prepare(
	    pki->db,
	    "SELECT cert_pem, key_id FROM certificates WHERE is_ca = 1 AND state = 'issued' "
	    "ORDER BY id DESC LIMIT 1",
	    err);
	if (!st)
		return -1;
	if (csod_db_step(st) == CSOD_DB_ROW) {
		pki->ca_cert = csod_x509_from_pem(csod_db_text(st, 0));
		pki->ca_key_id = csod_db_column_int64(st, 1);
	}
	csod_db_finalize(st);
	return 0;
}

/* Loads the CA (creating it on first use) into pki->ca_cert and trust. */
static int ensure_ca(csod_pki *pki, csod_error *err)
{
	if (pki->ca_cert)
		return 0;
	if (load_ca(pki, err) < 0)
		return -1;
	if (!pki->ca_cert) {
		if (strcmp(pki->cfg->ca.backend, "local") != 0)
			return 0; /* trust comes from the issued chains */
		EVP_PKEY *key = NULL;
		int64_t key_id = csod_keystore_generate(pki->keys, "rsa", 3072, &key, err);
		if (key_id < 0)
			return -1;
		const char *org =
		    pki->cfg->n_organizations ? pki->cfg->organizations[0].name : NULL;
		X509 *cert = csod_ca_make_root(key, org, 10, err);
		EVP_PKEY_free(key);
		if (!cert)
			return -1;
		char *pem = csod_x509_pem(cert);
		csod_stmt *st = csod_db_prepare(
		    pki->db,
		    "INSERT INTO certificates(is_ca, key_id, state, order_no, "
		    "requested, collected, expires, cert_pem, full_name) VALUES(1, ?, "
		    "'issued', 'CA', ?, ?, ?, ?, 'csod local CA')",
		    err);
		int ok = st != NULL;
		if (st) {
			int64_t now = csod_now();
			csod_db_bind_int64(st, 1, key_id);
			csod_db_bind_int64(st, 2, now);
			csod_db_bind_int64(st, 3, now);
			csod_db_bind_int64(st, 4, now + 10LL * 365 * 86400);
			csod_db_bind_text(st, 5, pem);
			ok = csod_db_step(st) == CSOD_DB_DONE;
			csod_db_finalize(st);
		}
		free(pem);
		if (!ok) {
			X509_free(cert);
			/* Its order number ('CA') is unique: another node of a
			 * cluster made the CA first, and that one is everyone's. */
			if (load_ca(pki, err) < 0 || !pki->ca_cert)
				return csod_fail(err, "database: cannot record the CA");
			csod_log(LOG_NOTICE, NULL, "another node created the local CA first");
			/* Its key would otherwise stay on the token for good. */
			csod_keystore_discard(pki->keys, key_id);
			key_id = pki->ca_key_id;
			cert = pki->ca_cert;
		} else {
			csod_audit(pki->db, "csodd", "ca.created", "local", "local CA created");
		}
		pki->ca_cert = cert;
		pki->ca_key_id = key_id;
	}
	X509_STORE_add_cert(pki->trust, pki->ca_cert);
	char *pem = csod_x509_pem(pki->ca_cert);
	int rc = pem ? publish_ca(pki, pem, err) : -1;
	free(pem);
	return rc;
}

/* Certificates that expire within 30 days: the admins in scope get one
 * mail each (remembered in settings, so not again every tick), unless
 * notifications about the certificate are suspended (csodctl cert
 * suspend-notifications; resumed, a certificate still expiring is warned
 * of at the next tick). */
static void warn_expiring(csod_pki *pki)
{
	csod_stmt *st = csod_db_prepare(
	    pki->db,
	    "SELECT id, developer, organization, COALESCE(department, ''), expires FROM "
	    "certificates WHERE is_ca = 0 AND state = 'issued' AND expires < ? AND "
	    "notifications_suspended = 0 AND NOT EXISTS "
	    "(SELECT 1 FROM settings WHERE key = 'cert_expiring:' || certificates.id)",
	    NULL);
	if (!st)
		return;
	csod_db_bind_int64(st, 1, csod_now() + 30 * 86400);
	while (csod_db_step(st) == CSOD_DB_ROW) {
		char id[32], key[64], expires[32];
		snprintf(id, sizeof id, "%lld", (long long)csod_db_column_int64(st, 0));
		csod_iso_time(csod_db_column_int64(st, 4), expires);
		const char *vars[] = {"id",
		                      id,
		                      "developer",
		                      csod_db_text(st, 1),
		                      "organization",
		                      csod_db_text(st, 2),
		                      "expires",
		                      expires,
		                      NULL};
		csod_notify_admins(pki->db, pki->cfg, "cert_expiring", csod_db_text(st, 2),
		                   csod_db_text(st, 3), vars);
		snprintf(key, sizeof key, "cert_expiring:%s", id);
		csod_db_setting_set(pki->db, key, expires, NULL);
		csod_log(LOG_WARNING, NULL, "certificate %s of %s expires on %s", id,
		         csod_db_text(st, 1), expires);
	}
	csod_db_finalize(st);
}

int csod_pki_tick(csod_pki *pki, csod_error *err)
{
	if (ensure_ca(pki, err) < 0)
		return -1;
	csod_stmt *st = csod_db_prepare(
	    pki->db,
	    "UPDATE certificates SET state = 'expired' WHERE state = 'issued' AND expires <= ?",
	    err);
	if (st) {
		csod_db_bind_int64(st, 1, csod_now());
		csod_db_step(st);
		csod_db_finalize(st);
	}
	warn_expiring(pki);
	int refused = pki->cfg->ca.auto_enroll ? csod_enroll_developers(pki, err) : 0;
	/* Before new orders are worked: those become requested too. */
	csod_enroll_command_resume(pki);
	csod_enroll_process(pki);
	csod_pki_collect(pki);
	return refused ? -1 : 0;
}

/* Why a developer has no usable certificate, for the request's error:
 * 1 when the newest CSoD-enabled one is on order (init or requested), -1
 * otherwise. A certificate outside code signing on demand (enrolled
 * without --csod) is named only when there is no CSoD-enabled one: the
 * service may not use it. */
static int no_identity(csod_pki *pki, const char *developer, const char *organization,
                       csod_error *err)
{
	csod_stmt *st = csod_db_prepare(
	    pki->db,
	    "SELECT id, state, expires, revoke_reason, error, csod FROM certificates WHERE is_ca = "
	    "0 AND developer = ? AND organization = ? ORDER BY csod DESC, id DESC LIMIT 1",
	    err);
	if (!st)
		return -1;
	int on_order = 0;
	csod_db_bind_text(st, 1, developer);
	csod_db_bind_text(st, 2, organization);
	if (csod_db_step(st) != CSOD_DB_ROW) {
		csod_fail(err, "no certificate for developer %s in organization %s", developer,
		          organization);
	} else if (!csod_db_column_int(st, 5)) {
		csod_fail(err,
		          "no certificate of developer %s in organization %s is enabled for code "
		          "signing on demand (certificate %lld is not; csodctl cert add --csod "
		          "orders one that is)",
		          developer, organization, (long long)csod_db_column_int64(st, 0));
	} else {
		const char *state = csod_db_text(st, 1);
		/* Past its expiry but not yet marked by the periodic pass. */
		if (strcmp(state, "issued") == 0 && csod_db_column_int64(st, 2) <= csod_now())
			state = "expired";
		const char *reason = csod_db_text(st, 3);
		const char *error = csod_db_text(st, 4);
		char when[32] = "";
		time_t t = (time_t)csod_db_column_int64(st, 2);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%d", &tm);
		on_order = strcmp(state, "init") == 0 || strcmp(state, "requested") == 0;
		csod_fail(err, "certificate %lld of %s (%s) is %s%s%s%s%s",
		          (long long)csod_db_column_int64(st, 0), developer, organization, state,
		          strcmp(state, "expired") == 0 ? " since " : "",
		          strcmp(state, "expired") == 0 ? when : "",
		          reason  ? ": "
		          : error ? ": "
		                  : "",
		          reason  ? reason
		          : error ? error
		                  : "");
	}
	csod_db_finalize(st);
	return on_order ? 1 : -1;
}

/* The chain an external CA sent with the certificate. Its self-signed
 * root is what the self-check trusts for this certificate. */
static STACK_OF(X509) * external_chain(csod_pki *pki, const char *pem)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *c;
	while (bio && chain && (c = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		if (X509_check_issued(c, c) == X509_V_OK)
			X509_STORE_add_cert(pki->trust, c); /* a duplicate is harmless */
		sk_X509_push(chain, c);
	}
	BIO_free(bio);
	ERR_clear_error();
	return chain;
}

/* Decodes certificate id (with its chain) into a cache slot. */
static struct pki_cached *decode_certificate(csod_pki *pki, int64_t id, const char *cert_pem,
                                             const char *issuers, csod_error *err)
{
	X509 *cert = csod_x509_from_pem(cert_pem);
	if (!cert) {
		csod_fail(err, "certificate %lld does not decode", (long long)id);
		return NULL;
	}
	if (!csod_x509_code_signing(cert)) {
		X509_free(cert);
		csod_fail(err, "certificate %lld lacks the codeSigning extended key usage",
		          (long long)id);
		return NULL;
	}
	STACK_OF(X509) *chain = issuers ? external_chain(pki, issuers) : sk_X509_new_null();
	if (!issuers && pki->ca_cert) {
		X509_up_ref(pki->ca_cert);
		sk_X509_push(chain, pki->ca_cert);
	}
	char *leaf = csod_x509_pem(cert);
	char *root = issuers ? NULL : pki->ca_cert ? csod_x509_pem(pki->ca_cert) : NULL;
	const char *rest = issuers ? issuers : root ? root : "";
	size_t len = (leaf ? strlen(leaf) : 0) + strlen(rest) + 1;
	char *chain_pem = malloc(len);
	if (chain_pem)
		snprintf(chain_pem, len, "%s%s", leaf ? leaf : "", rest);
	free(leaf);
	free(root);
	struct pki_cached *c = &pki->cache[pki->cache_next++ % PKI_CACHE_SLOTS];
	X509_free(c->cert);
	sk_X509_pop_free(c->chain, X509_free);
	free(c->chain_pem);
	c->id = id;
	c->cert = cert;
	c->chain = chain;
	c->chain_pem = chain_pem;
	return c;
}

int csod_pki_identity(csod_pki *pki, const char *developer, const char *organization,
                      csod_identity *out, int64_t *certificate_id, char **chain_pem,
                      csod_error *err)
{
	memset(out, 0, sizeof *out);
	csod_stmt *st = csod_db_cached(
	    pki->db,
	    "SELECT id, key_id, cert_pem, chain_pem FROM certificates WHERE is_ca = 0 AND "
	    "developer = ? "
	    "AND organization = ? AND csod = 1 AND state = 'issued' AND expires > ? ORDER BY "
	    "expires DESC LIMIT 1",
	    err);
	if (!st)
		return -1;
	csod_db_bind_text(st, 1, developer);
	csod_db_bind_text(st, 2, organization ? organization : "");
	csod_db_bind_int64(st, 3, csod_now());
	if (csod_db_step(st) != CSOD_DB_ROW) {
		csod_db_release(st);
		return no_identity(pki, developer, organization ? organization : "", err);
	}
	int64_t id = csod_db_column_int64(st, 0), key_id = csod_db_column_int64(st, 1);
	struct pki_cached *c = NULL;
	for (unsigned i = 0; i < PKI_CACHE_SLOTS && !c; i++)
		if (pki->cache[i].cert && pki->cache[i].id == id)
			c = &pki->cache[i];
	if (!c)
		c = decode_certificate(pki, id, csod_db_text(st, 2), csod_db_text(st, 3), err);
	csod_db_release(st);
	if (!c)
		return -1;
	if (!(out->key = csod_keystore_load(pki->keys, key_id, err)))
		return -1;
	X509_up_ref(c->cert);
	out->cert = c->cert;
	out->chain = sk_X509_new_null();
	for (int i = 0; out->chain && c->chain && i < sk_X509_num(c->chain); i++) {
		X509_up_ref(sk_X509_value(c->chain, i));
		sk_X509_push(out->chain, sk_X509_value(c->chain, i));
	}
	if (certificate_id)
		*certificate_id = id;
	if (chain_pem)
		*chain_pem = c->chain_pem ? strdup(c->chain_pem) : NULL;
	return 0;
}
