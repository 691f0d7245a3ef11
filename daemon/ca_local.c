#include "ca_local.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	int ok = ext && X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int random_serial(X509 *cert)
{
	/* 128 random bits, positive: unguessable, never reused. */
	BIGNUM *bn = BN_new();
	int ok = bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
	         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
	BN_free(bn);
	return ok ? 0 : -1;
}

static void name_add(X509_NAME *name, const char *field, const char *value)
{
	if (value && *value)
		X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, (const unsigned char *)value,
		                           -1, -1, 0);
}

void csod_name_fill(X509_NAME *name, const csod_subject *s)
{
	name_add(name, "C", s->country);
	name_add(name, "O", s->organization);
	name_add(name, "OU", s->department);
	name_add(name, "CN", s->common_name);
	name_add(name, "emailAddress", s->email);
}

X509_EXTENSION *csod_contact_ext(const csod_subject *s, int *failed)
{
	*failed = 0;
	if (!s->contact || !*s->contact)
		return NULL;
	/* Built as a value, not parsed from "email:..." text: nothing in the
	 * address can be read as another name. */
	GENERAL_NAMES *names = GENERAL_NAMES_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *text = ASN1_IA5STRING_new();
	X509_EXTENSION *ext = NULL;
	if (names && gn && text && ASN1_STRING_set(text, s->contact, -1)) {
		GENERAL_NAME_set0_value(gn, GEN_EMAIL, text);
		text = NULL;
		if (sk_GENERAL_NAME_push(names, gn)) {
			gn = NULL;
			ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, names);
		}
	}
	ASN1_IA5STRING_free(text);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	*failed = ext == NULL;
	return ext;
}

static X509 *new_cert(EVP_PKEY *key, int years)
{
	X509 *cert = X509_new();
	if (!cert || !X509_set_version(cert, 2) || random_serial(cert) < 0 ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), -300) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), (long)years * 365 * 86400) ||
	    !X509_set_pubkey(cert, key)) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

X509 *csod_ca_make_root(EVP_PKEY *key, const char *organization, int years, csod_error *err)
{
	X509 *cert = new_cert(key, years);
	if (!cert) {
		csod_fail_ssl(err, "cannot make the CA certificate");
		return NULL;
	}
	X509_NAME *name = X509_get_subject_name(cert);
	name_add(name, "O", organization);
	name_add(name, "CN", "csod local code-signing CA");
	X509_set_issuer_name(cert, name);
	if (add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(cert, cert, NID_subject_key_identifier, "hash") < 0 ||
	    X509_sign(cert, key, EVP_sha256()) <= 0) {
		csod_fail_ssl(err, "cannot sign the CA certificate");
		X509_free(cert);
		return NULL;
	}
	return cert;
}

static int add_contact(X509 *cert, const csod_subject *s)
{
	int failed;
	X509_EXTENSION *ext = csod_contact_ext(s, &failed);
	int ok = !failed && (!ext || X509_add_ext(cert, ext, -1));
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

X509 *csod_ca_issue(X509 *ca_cert, EVP_PKEY *ca_key, EVP_PKEY *subject_key, const csod_subject *s,
                    int years, csod_error *err)
{
	X509 *cert = new_cert(subject_key, years);
	if (!cert) {
		csod_fail_ssl(err, "cannot make a certificate");
		return NULL;
	}
	csod_name_fill(X509_get_subject_name(cert), s);
	X509_set_issuer_name(cert, X509_get_subject_name(ca_cert));
	if (add_ext(cert, ca_cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, ca_cert, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(cert, ca_cert, NID_ext_key_usage, "codeSigning") < 0 ||
	    add_ext(cert, ca_cert, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(cert, ca_cert, NID_authority_key_identifier, "keyid:always") < 0 ||
	    add_contact(cert, s) < 0 || X509_sign(cert, ca_key, EVP_sha256()) <= 0) {
		csod_fail_ssl(err, "cannot issue the certificate");
		X509_free(cert);
		return NULL;
	}
	return cert;
}

X509_CRL *csod_ca_make_crl(X509 *ca_cert, EVP_PKEY *ca_key, char **revoked, csod_error *err)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *now = ASN1_TIME_adj(NULL, time(NULL), 0, 0);
	ASN1_TIME *next = ASN1_TIME_adj(NULL, time(NULL), 7, 0);
	int ok = crl && now && next && X509_CRL_set_version(crl, 1) &&
	         X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca_cert)) &&
	         X509_CRL_set1_lastUpdate(crl, now) && X509_CRL_set1_nextUpdate(crl, next);
	for (int i = 0; ok && revoked && revoked[i]; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		BIGNUM *bn = NULL;
		ASN1_INTEGER *serial = NULL;
		ok = r && BN_hex2bn(&bn, revoked[i]) && (serial = BN_to_ASN1_INTEGER(bn, NULL)) &&
		     X509_REVOKED_set_serialNumber(r, serial) &&
		     X509_REVOKED_set_revocationDate(r, now) && X509_CRL_add0_revoked(crl, r);
		if (!ok)
			X509_REVOKED_free(r);
		ASN1_INTEGER_free(serial);
		BN_free(bn);
	}
	ok = ok && X509_CRL_sort(crl) && X509_CRL_sign(crl, ca_key, EVP_sha256()) > 0;
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	if (!ok) {
		csod_fail_ssl(err, "cannot make the CRL");
		X509_CRL_free(crl);
		return NULL;
	}
	return crl;
}

int csod_x509_code_signing(X509 *cert)
{
	uint32_t flags = X509_get_extension_flags(cert);
	return (flags & EXFLAG_XKUSAGE) && (X509_get_extended_key_usage(cert) & XKU_CODE_SIGN);
}

char *csod_x509_pem(X509 *cert)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *out = NULL;
	if (bio && PEM_write_bio_X509(bio, cert)) {
		char *data;
		long len = BIO_get_mem_data(bio, &data);
		out = malloc((size_t)len + 1);
		if (out) {
			memcpy(out, data, (size_t)len);
			out[len] = '\0';
		}
	}
	BIO_free(bio);
	return out;
}

X509 *csod_x509_from_pem(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	return cert;
}
