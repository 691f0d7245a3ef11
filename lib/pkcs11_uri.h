/* Private keys on a PKCS#11 token, named by an RFC 7512 URI such as
 *   pkcs11:token=csod;object=signer;type=private
 *     ?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/etc/csod/pin
 * The key is used through libp11 and never leaves the token. */
#ifndef CSOD_PKCS11_URI_H
#define CSOD_PKCS11_URI_H

#include <openssl/evp.h>

#include "error.h"

typedef struct csod_pkcs11_uri {
	char token[256];  /* token label; "" = the first token */
	char object[256]; /* key label; "" = any */
	unsigned char id[64];
	size_t id_len;     /* 0 = any */
	char module[1024]; /* module-path */
	char pin[256];     /* pin-value, or read from pin-source */
} csod_pkcs11_uri;

/* Parses uri (percent-decoding, pin-source read from its file). */
int csod_pkcs11_uri_parse(const char *uri, csod_pkcs11_uri *out, csod_error *err);

/* Loads the module, logs in and returns the token's private key. The
 * module stays loaded until csod_pkcs11_unload(). */
EVP_PKEY *csod_pkcs11_load_key(const char *uri, csod_error *err);
void csod_pkcs11_unload(void);

#endif
