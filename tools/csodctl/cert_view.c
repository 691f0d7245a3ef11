/* What cert show adds to the certificate's row, as the seed's View dialog
 * has it: the key usage and extended key usage read from the certificate
 * itself (what a verifier will see, not what was asked for); and the
 * per-certificate "Suspend Notifications" switch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../../daemon/audit.h"
#include "ctl.h"

void ctl_cert_usages(const char *pem, ctl_usages *u)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} bits[] = {
	    {KU_DIGITAL_SIGNATURE, "Digital Signature"},
	    {KU_NON_REPUDIATION, "Non Repudiation"},
	    {KU_KEY_ENCIPHERMENT, "Key Encipherment"},
	    {KU_DATA_ENCIPHERMENT, "Data Encipherment"},
	    {KU_KEY_AGREEMENT, "Key Agreement"},
	    {KU_KEY_CERT_SIGN, "Certificate Sign"},
	    {KU_CRL_SIGN, "CRL Sign"},
	    {KU_ENCIPHER_ONLY, "Encipher Only"},
	    {KU_DECIPHER_ONLY, "Decipher Only"},
	};
	memset(u, 0, sizeof *u);
	BIO *bio = pem ? BIO_new_mem_buf(pem, -1) : NULL;
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!x)
		return;
	uint32_t ku = X509_get_key_usage(x); /* UINT32_MAX: no extension */
	for (size_t i = 0; ku != UINT32_MAX && i < sizeof bits / sizeof bits[0]; i++)
		if (ku & bits[i].bit)
			u->key_usage[u->n_key_usage++] = bits[i].name;
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku) && u->n_eku < CTL_MAX_EKU; i++) {
		const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
		int nid = OBJ_obj2nid(o);
		OBJ_obj2txt(u->eku_oid[u->n_eku], sizeof u->eku_oid[0], o, 1);
		snprintf(u->eku_name[u->n_eku], sizeof u->eku_name[0], "%s",
		         nid != NID_undef ? OBJ_nid2ln(nid) : "");
		u->n_eku++;
	}
	EXTENDED_KEY_USAGE_free(eku);
	X509_free(x);
}

json_t *ctl_usages_json(const ctl_usages *u, int extended)
{
	json_t *a = json_array();
	int n = extended ? u->n_eku : u->n_key_usage;
	for (int i = 0; a && i < n; i++)
		if (json_array_append_new(
		        a, json_string(extended ? u->eku_oid[i] : u->key_usage[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

void ctl_usages_print(const ctl_usages *u)
{
	printf("%-19s", "Key usage");
	for (int i = 0; i < u->n_key_usage; i++)
		printf("%s%s", i ? ", " : " ", u->key_usage[i]);
	printf("%s\n%-19s", u->n_key_usage ? "" : " -", "Extended key usage");
	for (int i = 0; i < u->n_eku; i++)
		printf("%s%s%s%s%s", i ? ", " : " ", u->eku_oid[i], u->eku_name[i][0] ? " (" : "",
		       u->eku_name[i], u->eku_name[i][0] ? ")" : "");
	printf("%s\n", u->n_eku ? "" : " -");
}

int ctl_cert_notifications(ctl *c, csod_db *db, const char *id, int suspend)
{
	csod_stmt *st = csod_db_prepare(
	    db,
	    "SELECT organization, COALESCE(department, '') FROM certificates WHERE id = ? AND "
	    "is_ca = 0",
	    NULL);
	csod_db_bind_int64(st, 1, atoll(id));
	char org[256] = "", dept[256] = "";
	int found = st && csod_db_step(st) == CSOD_DB_ROW;
	if (found) {
		snprintf(org, sizeof org, "%s", csod_db_text(st, 0) ? csod_db_text(st, 0) : "");
		snprintf(dept, sizeof dept, "%s", csod_db_text(st, 1));
	}
	csod_db_finalize(st);
	if (!found || !ctl_may_see(c, "", org, dept))
		return ctl_error("no certificate %s", id);
	if (ctl_require_admin(c, db, suspend ? "suspend notifications" : "resume notifications",
	                      org, dept) < 0)
		return 1;
	st = csod_db_prepare(db, "UPDATE certificates SET notifications_suspended = ? WHERE id = ?",
	                     NULL);
	csod_db_bind_int(st, 1, suspend);
	csod_db_bind_int64(st, 2, atoll(id));
	int ok = st && csod_db_step(st) == CSOD_DB_DONE;
	csod_db_finalize(st);
	if (!ok)
		return ctl_error("database: %s", csod_db_errmsg(db));
	csod_audit(db, c->user,
	           suspend ? "cert.notifications_suspended" : "cert.notifications_resumed", id,
	           "%s", suspend ? "no mail about it until resumed" : "mail about it again");
	printf("certificate %s: notifications %s\n", id, suspend ? "suspended" : "resumed");
	return 0;
}
