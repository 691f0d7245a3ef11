#include "load.h"

#include "../../lib/pkcs11_uri.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

int csod_load_identity(const char *cert_path, const char *key_spec, const char *chain_path,
                       csod_identity *id, csod_error *err)
{
	memset(id, 0, sizeof *id);
	FILE *f = fopen(cert_path, "r");
	if (!f)
		return csod_fail_errno(err, "%s", cert_path);
	id->cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!id->cert)
		return csod_fail_ssl(err, "%s: not a PEM certificate", cert_path);
	if (strncmp(key_spec, "pkcs11:", 7) == 0) {
		/* On a token: signing calls the token; the key never leaves it. */
		id->key = csod_pkcs11_load_key(key_spec, err);
		if (!id->key)
			return -1;
		if (X509_check_private_key(id->cert, id->key) != 1)
			return csod_fail(err, "the token's key does not belong to %s", cert_path);
		goto chain;
	}
	f = fopen(key_spec, "r");
	if (!f)
		return csod_fail_errno(err, "%s", key_spec);
	id->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!id->key)
		return csod_fail_ssl(err, "%s: not a PEM private key", key_spec);
	if (X509_check_private_key(id->cert, id->key) != 1)
		return csod_fail(err, "%s does not belong to %s", key_spec, cert_path);
chain:
	id->chain = sk_X509_new_null();
	if (!chain_path)
		return 0;
	f = fopen(chain_path, "r");
	if (!f)
		return csod_fail_errno(err, "%s", chain_path);
	X509 *c;
	while ((c = PEM_read_X509(f, NULL, NULL, NULL)))
		sk_X509_push(id->chain, c);
	ERR_clear_error();
	fclose(f);
	if (sk_X509_num(id->chain) == 0)
		return csod_fail(err, "%s: no PEM certificates", chain_path);
	return 0;
}

void csod_free_identity(csod_identity *id)
{
	EVP_PKEY_free(id->key);
	X509_free(id->cert);
	sk_X509_pop_free(id->chain, X509_free);
	memset(id, 0, sizeof *id);
}

X509_STORE *csod_trust_from_files(const char *cert_path, const char *chain_path, csod_error *err)
{
	const char *path = chain_path ? chain_path : cert_path;
	FILE *f = fopen(path, "r");
	if (!f)
		return csod_fail_errno(err, "%s", path), NULL;
	X509 *c, *last = NULL;
	while ((c = PEM_read_X509(f, NULL, NULL, NULL))) {
		X509_free(last);
		last = c;
	}
	ERR_clear_error();
	fclose(f);
	if (!last)
		return csod_fail(err, "%s: no PEM certificates", path), NULL;
	X509_STORE *store = X509_STORE_new();
	if (!store || X509_STORE_add_cert(store, last) != 1) {
		X509_STORE_free(store);
		store = NULL;
		csod_fail(err, "out of memory");
	}
	X509_free(last);
	return store;
}

X509_STORE *csod_trust_for(const csod_identity *id)
{
	X509_STORE *store = X509_STORE_new();
	int n = id->chain ? sk_X509_num(id->chain) : 0;
	if (store)
		X509_STORE_add_cert(store, n > 0 ? sk_X509_value(id->chain, n - 1) : id->cert);
	return store;
}
