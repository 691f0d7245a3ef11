/* Enrollment: orders (certificate rows) go init -> requested -> issued, or
 * to failed with the reason. The key is made first, in the keystore; the
 * CSR (for the directory and command backends) is kept with the order so
 * that whatever comes back can be checked against it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "audit.h"
#include "ca_external.h"
#include "cluster.h"
#include "developers.h"
#include "notify.h"
#include "pki_internal.h"

int csod_domain_allowed(const csod_config *cfg, const char *organization, const char *email)
{
	const csod_organization *org = csod_config_organization(cfg, organization);
	const char *at = email ? strrchr(email, '@') : NULL;
	if (!org || !org->domains || !org->domains[0])
		return 1;
	for (int i = 0; at && org->domains[i]; i++)
		if (strcasecmp(at + 1, org->domains[i]) == 0)
			return 1;
	return 0;
}

/* Auto-enrollment is for developers that never had a CSoD-enabled
 * certificate (or whose certificates expired): a revoked or failed one is
 * an administrator's matter that a new order must not silently undo. A
 * certificate outside code signing on demand does not count: the service
 * cannot sign with it. */
/* How long an order claimed by a node stays its own while not issued. */
#define ORDER_CLAIM_S 600

static int has_certificate(csod_pki *pki, const char *developer, const char *organization)
{
	csod_stmt *st = csod_db_prepare(
	    pki->db,
	    "SELECT 1 FROM certificates WHERE is_ca = 0 AND developer = ? AND organization = ? "
	    "AND csod = 1 AND state IN ('init', 'requested', 'issued', 'revoked', 'failed')",
	    NULL);
	if (!st)
		return 1;
	csod_db_bind_text(st, 1, developer);
	csod_db_bind_text(st, 2, organization);
	int found = csod_db_step(st) == CSOD_DB_ROW;
	csod_db_finalize(st);
	return found;
}

static int64_t create_order(csod_pki *pki, const csod_dev_record *dev)
{
	const csod_ca_config *ca = &pki->cfg->ca;
	csod_stmt *st = csod_db_prepare(
	    pki->db,
	    "INSERT INTO certificates(developer, organization, department, email, full_name,"
	    " contact_email, domain, term_years, algorithm, key_bits, csod, state) VALUES(?, ?,"
	    " ?, ?, ?, ?, ?, ?, ?, ?, 1, 'init') RETURNING id",
	    NULL);
	if (!st)
		return -1;
	const char *at = strrchr(dev->email, '@');
	csod_db_bind_text(st, 1, dev->user);
	csod_db_bind_text(st, 2, dev->organization);
	if (dev->department[0])
		csod_db_bind_text(st, 3, dev->department);
	csod_db_bind_text(st, 4, dev->email);
	csod_db_bind_text(st, 5, dev->name[0] ? dev->name : dev->user);
	/* No contact email: the certificate carries one only when it is
	 * given (csodctl cert add --contact-email). */
	if (at)
		csod_db_bind_text(st, 7, at + 1);
	csod_db_bind_int(st, 8, ca->term_years);
	csod_db_bind_text(st, 9, ca->key_algorithm);
	csod_db_bind_int(st, 10, ca->key_bits);
	int64_t id = csod_db_step(st) == CSOD_DB_ROW ? csod_db_column_int64(st, 0) : -1;
	csod_db_finalize(st);
	return id;
}

void csod_order_failed(csod_pki *pki, int64_t id, const char *reason)
{
	csod_stmt *st = csod_db_prepare(
	    pki->db, "UPDATE certificates SET state = 'failed', error = ? WHERE id = ?", NULL);
	if (st) {
		csod_db_bind_text(st, 1, reason);
		csod_db_bind_int64(st, 2, id);
		csod_db_step(st);
		csod_db_finalize(st);
	}
	char idtext[32];
	snprintf(idtext, sizeof idtext, "%lld", (long long)id);
	csod_audit(pki->db, "csodd", "cert.failed", idtext, "%s", reason);
	csod_log(LOG_ERR, NULL, "certificate order %lld failed: %s", (long long)id, reason);
}

static char *chain_text(STACK_OF(X509) * chain)
{
	BIO *bio = BIO_new(BIO_s_mem());
	for (int i = 0; bio && chain && i < sk_X509_num(chain); i++)
		PEM_write_bio_X509(bio, sk_X509_value(chain, i));
	char *data = NULL, *out = NULL;
	long len = bio ? BIO_get_mem_data(bio, &data) : 0;
	if (len > 0 && (out = malloc((size_t)len + 1))) {
		memcpy(out, data, (size_t)len);
		out[len] = '\0';
	}
	BIO_free(bio);
	return out;
}

static int64_t asn1_epoch(const ASN1_TIME *t)
{
	int day = 0, sec = 0;
	ASN1_TIME_diff(&day, &sec, NULL, t);
	return csod_now() + (int64_t)day * 86400 + sec;
}

int csod_order_issued(csod_pki *pki, int64_t id, X509 *cert, STACK_OF(X509) * chain,
                      const char *how)
{
	csod_stmt *st = csod_db_prepare(
	    pki->db,
	    "UPDATE certificates SET state = 'issued', collected = ?, not_before = ?, expires = ?,"
	    " serial = ?, cert_pem = ?, chain_pem = ?, error = NULL WHERE id = ? RETURNING "
	    "developer, organization, COALESCE(department, ''), notifications_suspended",
	    NULL);
	if (!st)
		return -1;
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *serial = bn ? BN_bn2hex(bn) : NULL;
	char *pem = csod_x509_pem(cert), *chain_pem = chain_text(chain);
	int64_t expires = asn1_epoch(X509_get0_notAfter(cert));
	csod_db_bind_int64(st, 1, csod_now());
	csod_db_bind_int64(st, 2, asn1_epoch(X509_get0_notBefore(cert)));
	csod_db_bind_int64(st, 3, expires);
	csod_db_bind_text(st, 4, serial ? serial : "");
	csod_db_bind_text(st, 5, pem);
	csod_db_bind_text(st, 6, chain_pem);
	csod_db_bind_int64(st, 7, id);
	int ok = csod_db_step(st) == CSOD_DB_ROW;
	if (ok) {
		char idtext[32], when[32], dev[80], org[256], dept[256];
		snprintf(dev, sizeof dev, "%s", csod_db_text(st, 0));
		snprintf(org, sizeof org, "%s", csod_db_text(st, 1));
		snprintf(dept, sizeof dept, "%s", csod_db_text(st, 2));
		int suspended = csod_db_column_int(st, 3);
		snprintf(idtext, sizeof idtext, "%lld", (long long)id);
		csod_iso_time(expires, when);
		while (csod_db_step(st) == CSOD_DB_ROW)
			;
		csod_audit(pki->db, "csodd", "cert.issued", idtext, "%s (%s), %s, serial %s", dev,
		           org, how, serial ? serial : "");
		csod_log(LOG_NOTICE, NULL, "certificate %s issued for %s (%s) by the %s", idtext,
		         dev, org, how);
		const char *vars[] = {"id", idtext,    "developer", dev, "organization",
		                      org,  "expires", when,        NULL};
		/* csodctl cert suspend-notifications: no mail about it. */
		if (!suspended)
			csod_notify_admins(pki->db, pki->cfg, "cert_issued", org, dept, vars);
	}
	csod_db_finalize(st);
	OPENSSL_free(serial);
	BN_free(bn);
	free(pem);
	free(chain_pem);
	return ok ? 0 : -1;
}

typedef struct order {
	int64_t id;
	char developer[80], organization[256], department[256], email[256], name[256];
	char contact[256];
	char algorithm[16];
	int bits, term_years;
	char order_no[32];
} order;

static int issue_local(csod_pki *pki, const order *o, EVP_PKEY *key, const csod_subject *subject,
                       csod_error *err)
{
	if (!pki->ca_cert)
		return csod_fail(err, "the local CA is not available");
	EVP_PKEY *ca_key = csod_keystore_load(pki->keys, pki->ca_key_id, err);
	if (!ca_key)
		return -1;
	X509 *cert = csod_ca_issue(pki->ca_cert, ca_key, key, subject, o->term_years, err);
	EVP_PKEY_free(ca_key);
	int rc = cert ? csod_order_issued(pki, o->id, cert, NULL, "local CA") : -1;
	X509_free(cert);
	return rc;
}

static int csr_sent(csod_pki *pki, const order *o, int64_t key_id, const char *csr)
{
	csod_stmt *st = csod_db_prepare(
	    pki->db,
	    "UPDATE certificates SET state = 'requested', key_id = ?, order_no = ?, csr_pem = ?,"
	    " requested = ? WHERE id = ?",
	    NULL);
	if (!st)
		return -1;
	csod_db_bind_int64(st, 1, key_id);
	csod_db_bind_text(st, 2, o->order_no);
	csod_db_bind_text(st, 3, csr);
	csod_db_bind_int64(st, 4, csod_now());
	csod_db_bind_int64(st, 5, o->id);
	int ok = csod_db_step(st) == CSOD_DB_DONE;
	csod_db_finalize(st);
	return ok ? 0 : -1;
}

static int request_external(csod_pki *pki, const order *o, EVP_PKEY *key, int64_t key_id,
                            const csod_subject *subject, csod_error *err)
{
	char *csr = csod_ca_make_csr(key, subject, err);
	if (!csr)
		return -1;
	int rc = csr_sent(pki, o, key_id, csr);
	if (rc < 0) {
		csod_fail(err, "database: %s", csod_db_errmsg(pki->db));
	} else if (strcmp(pki->cfg->ca.backend, "directory") == 0) {
		char path[PATH_MAX + 64], tmp[PATH_MAX + 8];
		if (csod_path(path, sizeof path, "%s/ca/pending/%s.csr", pki->spool, o->order_no) <
		        0 ||
		    csod_path(tmp, sizeof tmp, "%s/tmp", pki->spool) < 0)
			rc = csod_fail(err, "%s: spool path too long", pki->spool);
		else
			rc = csod_write_file_atomic(tmp, path, csr, strlen(csr), 0644, err);
		if (rc == 0)
			csod_log(LOG_NOTICE, NULL, "certificate order %s written to %s",
			         o->order_no, path);
	} else {
		/* The answer comes later, on the loop (csod_pki_take_answers). */
		rc = csod_enroll_command_submit(pki, o->id, o->order_no, csr, o->email, err);
	}
	free(csr);
	return rc;
}

static int work_order(csod_pki *pki, order *o, csod_error *err)
{
	if (!csod_domain_allowed(pki->cfg, o->organization, o->email))
		return csod_fail(err, "email %s is not in a domain of %s", o->email,
		                 o->organization);
	const char *backend = pki->cfg->ca.backend;
	snprintf(o->order_no, sizeof o->order_no, "%c%06lld", (char)(backend[0] - 'a' + 'A'),
	         (long long)o->id);
	/* Claimed before its key is made: of several nodes (cluster.h) one
	 * works the order; one claimed long ago by a node that died is free
	 * again. */
	csod_stmt *claim = csod_db_prepare(
	    pki->db,
	    "UPDATE certificates SET order_no = ?, requested = ? WHERE id = ? AND state = 'init'"
	    " AND (order_no IS NULL OR requested IS NULL OR requested < ?)",
	    err);
	if (!claim)
		return -1;
	csod_db_bind_text(claim, 1, o->order_no);
	csod_db_bind_int64(claim, 2, csod_now());
	csod_db_bind_int64(claim, 3, o->id);
	csod_db_bind_int64(claim, 4, csod_now() - ORDER_CLAIM_S);
	int claimed = csod_db_step(claim) == CSOD_DB_DONE ? csod_db_changes(pki->db) : -1;
	csod_db_finalize(claim);
	if (claimed != 1)
		return claimed < 0 ? csod_fail(err, "database: %s", csod_db_errmsg(pki->db)) : 1;
	EVP_PKEY *key = NULL;
	int64_t key_id = csod_keystore_generate(pki->keys, o->algorithm, o->bits, &key, err);
	if (key_id < 0)
		return -1;
	csod_subject subject = {pki->cfg->ca.subject_country,        o->organization, o->department,
	                        o->name[0] ? o->name : o->developer, o->email,        o->contact};
	int rc;
	if (strcmp(backend, "local") == 0) {
		csod_stmt *st = csod_db_prepare(
		    pki->db,
		    "UPDATE certificates SET key_id = ?, order_no = ?, requested = ? WHERE id = ?",
		    err);
		if (st) {
			csod_db_bind_int64(st, 1, key_id);
			csod_db_bind_text(st, 2, o->order_no);
			csod_db_bind_int64(st, 3, csod_now());
			csod_db_bind_int64(st, 4, o->id);
			csod_db_step(st);
			csod_db_finalize(st);
		}
		rc = issue_local(pki, o, key, &subject, err);
	} else {
		rc = request_external(pki, o, key, key_id, &subject, err);
	}
	EVP_PKEY_free(key);
	return rc;
}

void csod_enroll_process(csod_pki *pki)
{
	for (;;) {
		csod_stmt *st = csod_db_prepare(
		    pki->db,
		    "SELECT id, developer, organization, COALESCE(department, ''), email,"
		    " COALESCE(full_name, ''), algorithm, key_bits, term_years,"
		    " COALESCE(contact_email, '') FROM certificates"
		    " WHERE state = 'init' AND is_ca = 0"
		    " AND (order_no IS NULL OR requested IS NULL OR requested < ?) ORDER BY id "
		    "LIMIT 1",
		    NULL);
		if (!st)
			return;
		csod_db_bind_int64(st, 1, csod_now() - ORDER_CLAIM_S);
		order o;
		memset(&o, 0, sizeof o);
		int found = csod_db_step(st) == CSOD_DB_ROW;
		if (found) {
			o.id = csod_db_column_int64(st, 0);
			char *fields[] = {o.developer, o.organization, o.department,
			                  o.email,     o.name,         o.algorithm};
			size_t sizes[] = {sizeof o.developer,  sizeof o.organization,
			                  sizeof o.department, sizeof o.email,
			                  sizeof o.name,       sizeof o.algorithm};
			for (int i = 0; i < 6; i++) {
				const char *v = csod_db_text(st, i + 1);
				snprintf(fields[i], sizes[i], "%s", v ? v : "");
			}
			o.bits = csod_db_column_int(st, 7);
			snprintf(o.contact, sizeof o.contact, "%s", csod_db_text(st, 9));
			o.term_years = csod_db_column_int(st, 8);
		}
		csod_db_finalize(st);
		if (!found)
			return;
		csod_error err;
		csod_error_clear(&err);
		if (work_order(pki, &o, &err) < 0)
			csod_order_failed(pki, o.id, err.msg[0] ? err.msg : "enrollment failed");
	}
}

typedef struct enroll_pass {
	csod_pki *pki;
	int failures;
	csod_error *err;
} enroll_pass;

static void enroll_place(enroll_pass *p, const csod_dev_record *dev)
{
	if (has_certificate(p->pki, dev->user, dev->organization))
		return;
	if (!csod_domain_allowed(p->pki->cfg, dev->organization, dev->email) && !p->failures++)
		csod_fail(p->err, "enrollment of %s: email %s is not in a domain of %s", dev->user,
		          dev->email, dev->organization);
	/* Looked at again under the write lock: of several nodes enrolling
	 * the same developer at once, one places the order (cluster.h). */
	csod_db *db = p->pki->db;
	if (csod_db_begin(db) < 0 || csod_cluster_lock(db) < 0) {
		csod_db_rollback(db);
		return;
	}
	if (has_certificate(p->pki, dev->user, dev->organization)) {
		csod_db_rollback(db);
		return;
	}
	if (create_order(p->pki, dev) < 0 || csod_db_commit(db) < 0) {
		csod_db_rollback(db);
		csod_log(LOG_ERR, NULL, "cannot record an order for %s", dev->user);
	}
}

/* A certificate per organization the developer belongs to (a request is
 * signed with the one of its organization), in the department of their
 * first place there. */
static void enroll_if_needed(void *ctx, const csod_dev_record *dev)
{
	enroll_pass *p = ctx;
	csod_dev_record there;
	for (int i = 0; i < dev->n_places; i++) {
		int seen = 0;
		for (int k = 0; k < i; k++)
			seen |=
			    strcmp(dev->places[k].organization, dev->places[i].organization) == 0;
		if (seen)
			continue;
		there = *dev;
		snprintf(there.organization, sizeof there.organization, "%s",
		         dev->places[i].organization);
		snprintf(there.department, sizeof there.department, "%s",
		         dev->places[i].department);
		enroll_place(p, &there);
	}
}

int csod_enroll_developers(csod_pki *pki, csod_error *err)
{
	enroll_pass pass = {pki, 0, err};
	csod_developers_each(pki->db, enroll_if_needed, &pass);
	return pass.failures;
}

/* One requested order of the directory backend: its certificate, if one of
 * ca/issued/<order>.{crt,pem,p7b} has appeared. The file is renamed
 * .collected or .rejected so that the CA's operator sees what happened. */
static void collect_order(csod_pki *pki, int64_t id, const char *order_no, const char *csr)
{
	static const char *const exts[] = {"crt", "pem", "p7b"};
	for (int i = 0; i < 3; i++) {
		char path[PATH_MAX + 64], done[PATH_MAX + 80], csr_path[PATH_MAX + 64];
		if (csod_path(path, sizeof path, "%s/ca/issued/%s.%s", pki->spool, order_no,
		              exts[i]) < 0 ||
		    csod_path(done, sizeof done, "%s.collected", path) < 0 ||
		    csod_path(csr_path, sizeof csr_path, "%s/ca/pending/%s.csr", pki->spool,
		              order_no) < 0)
			continue;
		char *data = NULL;
		size_t len = 0;
		csod_error err;
		if (access(path, F_OK) != 0)
			continue;
		STACK_OF(X509) *chain = NULL;
		X509 *cert = NULL;
		if (csod_read_file(path, 1 << 20, &data, &len, &err) == 0)
			cert = csod_ca_accept((unsigned char *)data, len, csr, &chain, &err);
		int rc = cert ? csod_order_issued(pki, id, cert, chain, "directory CA") : -1;
		if (rc < 0 && cert)
			csod_fail(&err, "database: cannot record the certificate");
		if (rc < 0) {
			char reason[600];
			snprintf(reason, sizeof reason, "%s.%s: %s", order_no, exts[i], err.msg);
			csod_order_failed(pki, id, reason);
		}
		snprintf(done, sizeof done, "%s.%s", path, rc == 0 ? "collected" : "rejected");
		rename(path, done);
		unlink(csr_path);
		X509_free(cert);
		sk_X509_pop_free(chain, X509_free);
		free(data);
		return;
	}
}

void csod_pki_collect(csod_pki *pki)
{
	if (strcmp(pki->cfg->ca.backend, "directory") != 0)
		return;
	csod_stmt *st = csod_db_prepare(pki->db,
	                                "SELECT id, order_no, csr_pem FROM certificates WHERE "
	                                "state = 'requested' AND order_no IS NOT NULL",
	                                NULL);
	typedef struct pending {
		int64_t id;
		char order_no[32];
		char *csr;
	} pending;
	pending list[64];
	int n = 0;
	while (st && n < 64 && csod_db_step(st) == CSOD_DB_ROW) {
		list[n].id = csod_db_column_int64(st, 0);
		snprintf(list[n].order_no, sizeof list[n].order_no, "%s", csod_db_text(st, 1));
		const char *csr = csod_db_text(st, 2);
		list[n].csr = strdup(csr ? csr : "");
		n++;
	}
	csod_db_finalize(st);
	for (int i = 0; i < n; i++) {
		if (list[i].csr)
			collect_order(pki, list[i].id, list[i].order_no, list[i].csr);
		free(list[i].csr);
	}
}
