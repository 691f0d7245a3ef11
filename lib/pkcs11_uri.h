/* Private keys on a PKCS#11 token, named by an RFC 7512 URI as p11-kit
 * reads it, such as
 *   pkcs11:token=csod;serial=4f3a0c1d;object=signer;type=private
 *     ?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/etc/csod/pin
 * Every token and slot attribute the URI gives (token, serial, model,
 * manufacturer, slot-id, slot-description, slot-manufacturer) must match;
 * a URI that fits more than one token is refused as ambiguous. Without
 * module-path the p11-kit proxy module is loaded, so the system's
 * configured modules (/usr/share/p11-kit/modules) are seen as in every
 * other p11-kit tool. The key is used through libp11 and never leaves the
 * token. */
#ifndef CSOD_PKCS11_URI_H
#define CSOD_PKCS11_URI_H

#include <libp11.h>
#include <openssl/evp.h>
#include <p11-kit/uri.h>

#include "error.h"

/* Parses uri with p11-kit's parser; refuses attributes p11-kit does not
 * know (a misspelt serial= must not widen the match). Free with
 * p11_kit_uri_free(). */
P11KitUri *csod_pkcs11_uri_parse(const char *uri, csod_error *err);

/* The module the URI u (or NULL) names by module-path, else the p11-kit
 * proxy. */
const char *csod_pkcs11_uri_module(const P11KitUri *u);

/* The one initialized token among slots that matches every token and slot
 * attribute of u; NULL with err naming the module when none or several do. */
PKCS11_SLOT *csod_pkcs11_find_slot(PKCS11_CTX *ctx, PKCS11_SLOT *slots, unsigned int n,
                                   P11KitUri *u, const char *module, csod_error *err);

/* Loads the module, logs in and returns the token's private key. The
 * module stays loaded until csod_pkcs11_unload(). */
EVP_PKEY *csod_pkcs11_load_key(const char *uri, csod_error *err);
void csod_pkcs11_unload(void);

#endif
