/* csodctl cert ...: the seed's certificate list and View dialog, download,
 * revocation. Enrollment happens in csodd (ca.auto_enroll). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/pkcs7.h>

#include "../../daemon/audit.h"
#include "ctl.h"

/* A certificate's columns as cert_object reads them (cert show adds the
 * PEM and the chain after them). */
#define CERT_COLUMNS                                                                               \
	"id, developer, organization, department, email, full_name, order_no, state, serial, "     \
	"requested, collected, expires, revoked, revoke_reason, term_years, algorithm, "           \
	"key_bits, csod, is_ca, contact_email, domain, downloaded, notifications_suspended, "      \
	"cert_pem"
/* Where the columns after is_ca are. */
enum { COL_CONTACT = 19, COL_DOMAIN, COL_DOWNLOADED, COL_SUSPENDED, COL_PEM, COL_CHAIN };

/* A certificate as cert list --json and cert show --json give it. */
static json_t *cert_object(ctl *c, csod_stmt *st)
{
	static const char *const names[] = {"developer", "organization", "department", "email",
	                                    "name",      "order",        "state",      "serial"};
	char row[32];
	snprintf(row, sizeof row, "certificate %lld", (long long)csod_db_column_int64(st, 0));
	json_t *o = json_pack("{s:I}", "id", (json_int_t)csod_db_column_int64(st, 0));
	for (int i = 0; o && i < 8; i++)
		if (json_object_set_new(
		        o, names[i],
		        ctl_json_text(ctl_text(c, row, names[i], csod_db_text(st, 1 + i)))) < 0)
			json_decref(o), o = NULL;
	static const char *const times[] = {"requested", "collected", "expires", "revoked"};
	for (int i = 0; o && i < 4; i++)
		if (json_object_set_new(o, times[i],
		                        ctl_json_time(csod_db_column_int64(st, 9 + i))) < 0)
			json_decref(o), o = NULL;
	int64_t expires = csod_db_column_int64(st, 11);
	int expiring = strcmp(csod_db_text(st, 7), "issued") == 0 && expires &&
	               expires < csod_now() + 30 * 86400;
	json_t *rest =
	    json_pack("{s:o, s:i, s:o, s:i, s:b, s:b, s:b}", "revoke_reason",
	              ctl_json_text(ctl_text(c, row, "revoke_reason", csod_db_text(st, 13))),
	              "term_years", csod_db_column_int(st, 14), "algorithm",
	              ctl_json_text(ctl_text(c, row, "algorithm", csod_db_text(st, 15))),
	              "key_bits", csod_db_column_int(st, 16), "csod", csod_db_column_int(st, 17),
	              "ca", csod_db_column_int(st, 18), "expiring", expiring);
	ctl_usages u;
	ctl_cert_usages(csod_db_text(st, COL_PEM), &u);
	json_t *seed = json_pack(
	    "{s:o, s:o, s:o, s:b, s:o*, s:o*}", "contact_email",
	    ctl_json_text(ctl_text(c, row, "contact_email", csod_db_text(st, COL_CONTACT))),
	    "domain", ctl_json_text(ctl_text(c, row, "domain", csod_db_text(st, COL_DOMAIN))),
	    "downloaded", ctl_json_time(csod_db_column_int64(st, COL_DOWNLOADED)),
	    "notifications_suspended", csod_db_column_int(st, COL_SUSPENDED), "key_usage",
	    ctl_usages_json(&u, 0), "extended_key_usage", ctl_usages_json(&u, 1));
	if (!o || !rest || !seed || json_object_update(o, rest) < 0 ||
	    json_object_update(o, seed) < 0) {
		json_decref(o);
		o = NULL;
	}
	json_decref(rest);
	json_decref(seed);
	return o;
}

static int cert_list_json(ctl *c, csod_db *db)
{
	csod_stmt *st = csod_db_prepare(
	    db,
	    "SELECT " CERT_COLUMNS " FROM certificates WHERE is_ca = 1 OR " CTL_VISIBLE(
	        "developer", "organization", "department") " ORDER BY id",
	    NULL);
	json_t *rows = json_array();
	while (st && csod_db_step(st) == CSOD_DB_ROW) {
		char row[32];
		snprintf(row, sizeof row, "certificate %lld",
		         (long long)csod_db_column_int64(st, 0));
		ctl_append(c, rows, cert_object(c, st), row);
	}
	csod_db_finalize(st);
	ctl_print_json(c, rows);
	return 0;
}

static int cert_list(ctl *c, csod_db *db)
{
	if (c->json)
		return cert_list_json(c, db);
	csod_stmt *st = csod_db_prepare(
	    db,
	    "SELECT id, COALESCE(full_name, ''), COALESCE(email, ''), COALESCE(order_no, ''), "
	    "state, COALESCE(organization, ''), COALESCE(department, ''), COALESCE(expires, 0), "
	    "csod, is_ca FROM certificates WHERE is_ca = 1 OR " CTL_VISIBLE(
	        "developer", "organization", "department") " ORDER BY id",
	    NULL);
	int64_t soon = csod_now() + 30 * 86400;
	printf("%-4s %-24s %-28s %-8s %-9s %-28s %-16s %-16s %s\n", "ID", "NAME", "EMAIL", "ORDER",
	       "STATE", "ORGANIZATION", "DEPARTMENT", "EXPIRES", "CSOD");
	static const char *const fields[7] = {"name",         "email",      "order",  "state",
	                                      "organization", "department", "expires"};
	while (st && csod_db_step(st) == CSOD_DB_ROW) {
		const char *f[7];
		char row[32];
		snprintf(row, sizeof row, "certificate %lld",
		         (long long)csod_db_column_int64(st, 0));
		ctl_columns(c, row, st, 1, fields, 7, f);
		int64_t expires = csod_db_column_int64(st, 7);
		int expiring = strcmp(f[3], "issued") == 0 && expires && expires < soon;
		char when[32];
		ctl_time(expires, when);
		printf("%-4lld %-24.24s %-28.28s %-8s %-9s %-28.28s %-16.16s %-16s %s%s\n",
		       (long long)csod_db_column_int64(st, 0), f[0], f[1], f[2], f[3], f[4],
		       f[5][0] ? f[5] : "-", when, csod_db_column_int(st, 8) ? "yes" : "no",
		       expiring ? "  (expires within 30 days)" : "");
	}
	csod_db_finalize(st);
	return 0;
}

/* The seed's download: a certs-only PKCS#7 bundle (PEM) with the chain. */
static int ctl_print_pkcs7(const char *leaf, const char *chain)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	const char *parts[] = {leaf, chain};
	for (int i = 0; i < 2; i++) {
		BIO *bio = parts[i] ? BIO_new_mem_buf(parts[i], -1) : NULL;
		X509 *x;
		while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
			sk_X509_push(certs, x);
		BIO_free(bio);
	}
	PKCS7 *p7 = PKCS7_new();
	PKCS7_SIGNED *sd = NULL;
	int ok = p7 && PKCS7_set_type(p7, NID_pkcs7_signed) && (sd = p7->d.sign) &&
	         ASN1_INTEGER_set(sd->version, 1) && PKCS7_content_new(p7, NID_pkcs7_data);
	for (int i = 0; ok && i < sk_X509_num(certs); i++)
		ok = PKCS7_add_certificate(p7, sk_X509_value(certs, i));
	ok = ok && PEM_write_PKCS7(stdout, p7);
	PKCS7_free(p7);
	sk_X509_pop_free(certs, X509_free);
	return ok ? 0 : ctl_error("cannot make the PKCS#7 bundle");
}

/* The seed's "Downloaded" date: the first download. */
static void downloaded(ctl *c, csod_db *db, const char *id)
{
	csod_stmt *st = csod_db_prepare(
	    db, "UPDATE certificates SET downloaded = ? WHERE id = ? AND downloaded IS NULL", NULL);
	csod_db_bind_int64(st, 1, csod_now());
	csod_db_bind_int64(st, 2, atoll(id));
	if (!st || csod_db_step(st) != CSOD_DB_DONE)
		ctl_error("certificate %s: cannot record the download: %s", id, csod_db_errmsg(db));
	else if (csod_db_changes(db) > 0)
		csod_audit(db, c->user, "cert.downloaded", id, "first download");
	csod_db_finalize(st);
}

static int cert_show(ctl *c, csod_db *db, const char *id, int download)
{
	csod_stmt *st = csod_db_prepare(
	    db,
	    "SELECT " CERT_COLUMNS ", COALESCE(chain_pem, (SELECT c.cert_pem FROM "
	    "certificates c WHERE c.is_ca = 1 ORDER BY c.id DESC LIMIT 1)) FROM certificates "
	    "WHERE id = ?",
	    NULL);
	csod_db_bind_int64(st, 1, atoll(id));
	int rc = 0;
	/* Out of the caller's scope is as good as not there. */
	if (!st || csod_db_step(st) != CSOD_DB_ROW ||
	    (!csod_db_column_int(st, 18) &&
	     !ctl_may_see(c, csod_db_text(st, 1), csod_db_text(st, 2), csod_db_text(st, 3)))) {
		rc = ctl_error("no certificate %s", id);
	} else if (download) {
		const char *pem = csod_db_text(st, COL_PEM);
		if (!pem)
			rc = ctl_error("certificate %s is not issued", id);
		else if (download == 1)
			fputs(pem, stdout);
		else
			rc = ctl_print_pkcs7(pem, csod_db_text(st, COL_CHAIN));
		if (rc == 0)
			downloaded(c, db, id);
	} else if (c->json) {
		json_t *o = cert_object(c, st);
		if (!o) {
			ctl_error("certificate %s: cannot build its JSON", id);
			c->output_error = 1;
		}
		ctl_print_json(c, o);
	} else {
		static const char *const labels[] = {"Certificate", "Developer", "Organization",
		                                     "Department",  "Email",     "Full name",
		                                     "Order",       "State",     "Serial"};
		for (int i = 0; i < 9; i++) {
			const char *v = ctl_text(c, id, labels[i], csod_db_text(st, i));
			printf("%-19s %s\n", labels[i], *v ? v : "-");
		}
		static const char *const more[] = {"Contact email", "Domain"};
		for (int i = 0; i < 2; i++) {
			const char *v = ctl_text(c, id, more[i], csod_db_text(st, COL_CONTACT + i));
			printf("%-19s %s\n", more[i], *v ? v : "-");
		}
		static const char *const times[] = {"Requested", "Collected", "Expires", "Revoked"};
		for (int i = 0; i < 4; i++) {
			char when[32];
			ctl_time(csod_db_column_int64(st, 9 + i), when);
			printf("%-19s %s\n", times[i], when);
		}
		char when[32];
		ctl_time(csod_db_column_int64(st, COL_DOWNLOADED), when);
		printf("%-19s %s\n", "Downloaded", when);
		const char *reason = csod_db_text(st, 13);
		if (reason)
			printf("%-19s %s\n", "Reason", ctl_text(c, id, "reason", reason));
		printf("%-19s %d year(s), %s %d\n", "Term", csod_db_column_int(st, 14),
		       csod_db_text(st, 15) ? ctl_text(c, id, "algorithm", csod_db_text(st, 15))
		                            : "-",
		       csod_db_column_int(st, 16));
		ctl_usages u;
		ctl_cert_usages(csod_db_text(st, COL_PEM), &u);
		ctl_usages_print(&u);
		printf("%-19s %s\n", "Notifications",
		       csod_db_column_int(st, COL_SUSPENDED) ? "suspended" : "on");
	}
	csod_db_finalize(st);
	return rc;
}

static int cert_revoke(ctl *c, csod_db *db, int argc, char **argv)
{
	const char *reason = "unspecified";
	if (argc == 4 && strcmp(argv[2], "--reason") == 0)
		reason = argv[3];
	else if (argc != 2)
		return ctl_usage_error("cert", "revoke");
	csod_stmt *st = csod_db_prepare(
	    db, "SELECT organization, department, state FROM certificates WHERE id = ?", NULL);
	csod_db_bind_int64(st, 1, atoll(argv[1]));
	char org[256] = "", dept[256] = "", state[16] = "";
	int found = st && csod_db_step(st) == CSOD_DB_ROW;
	if (found) {
		snprintf(org, sizeof org, "%s", csod_db_text(st, 0) ? csod_db_text(st, 0) : "");
		snprintf(dept, sizeof dept, "%s", csod_db_text(st, 1) ? csod_db_text(st, 1) : "");
		snprintf(state, sizeof state, "%s", csod_db_text(st, 2));
	}
	csod_db_finalize(st);
	if (!found)
		return ctl_error("no certificate %s", argv[1]);
	if (strcmp(state, "issued") != 0)
		return ctl_error("certificate %s is %s, not issued", argv[1], state);
	if (ctl_require_admin(c, db, "revoke certificates", org, dept) < 0)
		return 1;
	st = csod_db_prepare(
	    db,
	    "UPDATE certificates SET state = 'revoked', revoked = ?, revoke_reason = ? "
	    "WHERE id = ? AND state = 'issued'",
	    NULL);
	csod_db_bind_int64(st, 1, csod_now());
	csod_db_bind_text(st, 2, reason);
	csod_db_bind_int64(st, 3, atoll(argv[1]));
	int ok = st && csod_db_step(st) == CSOD_DB_DONE;
	csod_db_finalize(st);
	if (!ok)
		return ctl_error("database: %s", csod_db_errmsg(db));
	csod_audit(db, c->user, "cert.revoked", argv[1], "%s", reason);
	printf("certificate %s revoked (%s)\n", argv[1], ctl_text(c, argv[1], "reason", reason));
	return 0;
}

/* The form of each sub-verb, checked before the caller's role: a usage
 * error is 2 for anyone. 0 for pem, 1 for pkcs7 in *format. */
static int well_formed(int argc, char **argv, int *format)
{
	const char *sub = argv[0];
	*format = 0;
	if (strcmp(sub, "list") == 0)
		return argc == 1;
	if (strcmp(sub, "show") == 0 || strcmp(sub, "renew") == 0 ||
	    strcmp(sub, "suspend-notifications") == 0 || strcmp(sub, "resume-notifications") == 0)
		return argc == 2;
	if (strcmp(sub, "download") == 0) {
		if (argc == 4 && strcmp(argv[2], "--format") == 0 &&
		    (strcmp(argv[3], "pem") == 0 || strcmp(argv[3], "pkcs7") == 0))
			*format = strcmp(argv[3], "pkcs7") == 0;
		return argc == 2 || (argc == 4 && strcmp(argv[2], "--format") == 0 &&
		                     (strcmp(argv[3], "pem") == 0 || *format));
	}
	if (strcmp(sub, "revoke") == 0)
		return argc == 2 || (argc == 4 && strcmp(argv[2], "--reason") == 0);
	return strcmp(sub, "add") == 0; /* its options are its own */
}

int cmd_cert(ctl *c, int argc, char **argv)
{
	int pkcs7;
	if (argc < 1 || !well_formed(argc, argv, &pkcs7))
		return ctl_usage_error("cert", argc ? argv[0] : NULL);
	if (!c->is_root && !c->admin)
		return ctl_error("%s is not an administrator", c->user);
	int writing = strcmp(argv[0], "list") != 0 && strcmp(argv[0], "show") != 0;
	csod_db *db = ctl_open_db(c, writing);
	if (!db)
		return 1;
	int rc;
	if (strcmp(argv[0], "list") == 0)
		rc = cert_list(c, db);
	else if (strcmp(argv[0], "show") == 0)
		rc = cert_show(c, db, argv[1], 0);
	else if (strcmp(argv[0], "download") == 0)
		rc = cert_show(c, db, argv[1], pkcs7 ? 2 : 1);
	else if (strcmp(argv[0], "add") == 0)
		rc = ctl_cert_add(c, db, argc, argv);
	else if (strcmp(argv[0], "renew") == 0)
		rc = ctl_cert_renew(c, db, argv[1]);
	else if (strcmp(argv[0], "suspend-notifications") == 0)
		rc = ctl_cert_notifications(c, db, argv[1], 1);
	else if (strcmp(argv[0], "resume-notifications") == 0)
		rc = ctl_cert_notifications(c, db, argv[1], 0);
	else
		rc = cert_revoke(c, db, argc, argv);
	csod_db_close(db);
	return rc;
}
