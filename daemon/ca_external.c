#include "ca_external.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

static int add_request_ext(STACK_OF(X509_EXTENSION) * exts, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, nid, value);
	return ext && sk_X509_EXTENSION_push(exts, ext) ? 0 : -1;
}

char *csod_ca_make_csr(EVP_PKEY *key, const csod_subject *s, csod_error *err)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	char *pem = NULL;
	BIO *bio = NULL;
	if (!req || !exts || !X509_REQ_set_version(req, 0) || !X509_REQ_set_pubkey(req, key))
		goto out;
	csod_name_fill(X509_REQ_get_subject_name(req), s);
	int failed;
	X509_EXTENSION *contact = csod_contact_ext(s, &failed);
	if (failed || (contact && !sk_X509_EXTENSION_push(exts, contact))) {
		X509_EXTENSION_free(contact);
		goto out;
	}
	if (add_request_ext(exts, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_request_ext(exts, NID_ext_key_usage, "codeSigning") < 0 ||
	    !X509_REQ_add_extensions(req, exts) || X509_REQ_sign(req, key, EVP_sha256()) <= 0)
		goto out;
	bio = BIO_new(BIO_s_mem());
	if (bio && PEM_write_bio_X509_REQ(bio, req)) {
		char *data;
		long len = BIO_get_mem_data(bio, &data);
		if ((pem = malloc((size_t)len + 1))) {
			memcpy(pem, data, (size_t)len);
			pem[len] = '\0';
		}
	}
out:
	if (!pem)
		csod_fail_ssl(err, "cannot make the certificate request");
	BIO_free(bio);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return pem;
}

/* Every certificate in data, in whichever of the accepted encodings. */
static STACK_OF(X509) * read_certificates(const unsigned char *data, size_t len)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	X509 *c;
	while (bio && (c = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
		sk_X509_push(certs, c);
	BIO_free(bio);
	if (sk_X509_num(certs) == 0) {
		PKCS7 *p7 = NULL;
		bio = BIO_new_mem_buf(data, (int)len);
		if (bio)
			p7 = PEM_read_bio_PKCS7(bio, NULL, NULL, NULL);
		BIO_free(bio);
		if (!p7) {
			const unsigned char *p = data;
			p7 = d2i_PKCS7(NULL, &p, (long)len);
		}
		STACK_OF(X509) *inner =
		    p7 && PKCS7_type_is_signed(p7) && p7->d.sign ? p7->d.sign->cert : NULL;
		for (int i = 0; inner && i < sk_X509_num(inner); i++) {
			X509_up_ref(sk_X509_value(inner, i));
			sk_X509_push(certs, sk_X509_value(inner, i));
		}
		PKCS7_free(p7);
	}
	if (sk_X509_num(certs) == 0) {
		const unsigned char *p = data;
		if ((c = d2i_X509(NULL, &p, (long)len)))
			sk_X509_push(certs, c);
	}
	ERR_clear_error();
	return certs;
}

static EVP_PKEY *csr_public_key(const char *csr_pem)
{
	BIO *bio = BIO_new_mem_buf(csr_pem, -1);
	X509_REQ *req = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
	EVP_PKEY *key = req ? X509_REQ_get_pubkey(req) : NULL;
	X509_REQ_free(req);
	BIO_free(bio);
	return key;
}

X509 *csod_ca_accept(const unsigned char *data, size_t len, const char *csr_pem,
                     STACK_OF(X509) * *chain, csod_error *err)
{
	*chain = NULL;
	STACK_OF(X509) *certs = len > 0 && len < (1 << 24) ? read_certificates(data, len) : NULL;
	EVP_PKEY *key = csr_public_key(csr_pem);
	X509 *leaf = NULL;
	if (!certs || sk_X509_num(certs) == 0) {
		csod_fail(err,
		          "the CA's answer holds no certificate (PEM, DER or PKCS#7 expected)");
		goto out;
	}
	if (!key) {
		csod_fail(err, "the order's certificate request does not decode");
		goto out;
	}
	for (int i = 0; i < sk_X509_num(certs) && !leaf; i++)
		if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(certs, i)), key) == 1)
			leaf = sk_X509_delete(certs, i);
	if (!leaf) {
		csod_fail(err, "the CA's certificate is for another key, not this order's");
		goto out;
	}
	if (!csod_x509_code_signing(leaf)) {
		csod_fail(err, "the CA's certificate lacks the codeSigning extended key usage");
		X509_free(leaf);
		leaf = NULL;
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) {
		csod_fail(err, "the CA's certificate has already expired");
		X509_free(leaf);
		leaf = NULL;
		goto out;
	}
	*chain = certs;
	certs = NULL;
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	return leaf;
}
