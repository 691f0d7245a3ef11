#include "pkcs11_uri.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fsutil.h"

/* The Makefile sets it from pkg-config p11-kit-1's proxy_module. */
#ifndef CSOD_P11_PROXY
#define CSOD_P11_PROXY "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"
#endif

P11KitUri *csod_pkcs11_uri_parse(const char *uri, csod_error *err)
{
	P11KitUri *u = p11_kit_uri_new();
	if (!u) {
		csod_fail(err, "out of memory");
		return NULL;
	}
	int rc = p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, u);
	if (rc != P11_KIT_URI_OK)
		csod_fail(err, "bad pkcs11 URI: %s", p11_kit_uri_message(rc));
	else if (p11_kit_uri_any_unrecognized(u))
		csod_fail(err, "pkcs11 URI: an attribute is not one p11-kit knows (misspelt?)");
	else
		return u;
	p11_kit_uri_free(u);
	return NULL;
}

const char *csod_pkcs11_uri_module(const P11KitUri *u)
{
	const char *path = u ? p11_kit_uri_get_module_path(u) : NULL;
	return path && path[0] ? path : CSOD_P11_PROXY;
}

/* PKCS#11 info fields are blank-padded, not NUL-terminated. */
static void pad(unsigned char *field, size_t cap, const char *text)
{
	size_t len = text ? strlen(text) : 0;
	memset(field, ' ', cap);
	memcpy(field, text ? text : "", len < cap ? len : cap);
}

static int slot_matches(PKCS11_SLOT *s, P11KitUri *u)
{
	CK_TOKEN_INFO token;
	CK_SLOT_INFO slot;
	memset(&token, 0, sizeof token);
	memset(&slot, 0, sizeof slot);
	pad(token.label, sizeof token.label, s->token->label);
	pad(token.manufacturerID, sizeof token.manufacturerID, s->token->manufacturer);
	pad(token.model, sizeof token.model, s->token->model);
	pad(token.serialNumber, sizeof token.serialNumber, s->token->serialnr);
	pad(slot.slotDescription, sizeof slot.slotDescription, s->description);
	pad(slot.manufacturerID, sizeof slot.manufacturerID, s->manufacturer);
	CK_SLOT_ID want = p11_kit_uri_get_slot_id(u);
	if (want != (CK_SLOT_ID)-1 && PKCS11_get_slotid_from_slot(s) != want)
		return 0;
	return p11_kit_uri_match_token_info(u, &token) && p11_kit_uri_match_slot_info(u, &slot);
}

PKCS11_SLOT *csod_pkcs11_find_slot(PKCS11_CTX *ctx, PKCS11_SLOT *slots, unsigned int n,
                                   P11KitUri *u, const char *module, csod_error *err)
{
	(void)ctx;
	PKCS11_SLOT *found = NULL;
	char serials[256] = "";
	unsigned int matches = 0;
	for (unsigned int i = 0; i < n; i++) {
		PKCS11_SLOT *s = &slots[i];
		if (!s->token || !s->token->initialized || !slot_matches(s, u))
			continue;
		found = s;
		matches++;
		size_t used = strlen(serials);
		snprintf(serials + used, sizeof serials - used, "%s%s", used ? ", " : "",
		         s->token->serialnr);
	}
	if (matches == 1)
		return found;
	if (matches == 0)
		csod_fail(err, "PKCS#11 module %s has no token that matches the URI", module);
	else
		csod_fail(err,
		          "the pkcs11 URI is ambiguous: %u tokens in %s match it (serials %s); "
		          "add serial= or slot-id=",
		          matches, module, serials);
	return NULL;
}

/* The PIN from pin-value, or from the file pin-source names. */
static int uri_pin(const P11KitUri *u, char *pin, size_t cap, csod_error *err)
{
	const char *value = p11_kit_uri_get_pin_value(u);
	const char *source = p11_kit_uri_get_pin_source(u);
	pin[0] = '\0';
	if (value) {
		snprintf(pin, cap, "%s", value);
		return 0;
	}
	if (!source)
		return 0;
	const char *path = strncmp(source, "file:", 5) == 0 ? source + 5 : source;
	char *text = NULL;
	size_t len = 0;
	if (csod_read_file(path, cap - 1, &text, &len, err) < 0)
		return -1;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	snprintf(pin, cap, "%s", text);
	OPENSSL_cleanse(text, len);
	free(text);
	return 0;
}

static int key_matches(const PKCS11_KEY *k, P11KitUri *u)
{
	CK_ATTRIBUTE *label = p11_kit_uri_get_attribute(u, CKA_LABEL);
	CK_ATTRIBUTE *id = p11_kit_uri_get_attribute(u, CKA_ID);
	if (label && (!k->label || strlen(k->label) != label->ulValueLen ||
	              memcmp(k->label, label->pValue, label->ulValueLen) != 0))
		return 0;
	if (id && (k->id_len != id->ulValueLen || memcmp(k->id, id->pValue, k->id_len) != 0))
		return 0;
	return k->isPrivate;
}

static PKCS11_CTX *p11_ctx;
static PKCS11_SLOT *p11_slots;
static unsigned int p11_nslots;

void csod_pkcs11_unload(void)
{
	if (!p11_ctx)
		return;
	if (p11_slots)
		PKCS11_release_all_slots(p11_ctx, p11_slots, p11_nslots);
	PKCS11_CTX_unload(p11_ctx);
	PKCS11_CTX_free(p11_ctx);
	p11_ctx = NULL;
	p11_slots = NULL;
}

static int load_module(const char *module, csod_error *err)
{
	if (p11_ctx)
		return 0;
	p11_ctx = PKCS11_CTX_new();
	if (!p11_ctx || PKCS11_CTX_load(p11_ctx, module) < 0) {
		/* Not through csod_pkcs11_unload: PKCS11_CTX_unload of a
		 * module that did not load dereferences NULL. */
		PKCS11_CTX_free(p11_ctx);
		p11_ctx = NULL;
		return csod_fail(err, "cannot load the PKCS#11 module %s", module);
	}
	if (PKCS11_enumerate_slots(p11_ctx, &p11_slots, &p11_nslots) < 0)
		return csod_fail(err, "%s: cannot list its slots", module);
	return 0;
}

static EVP_PKEY *token_key(PKCS11_SLOT *slot, P11KitUri *u, csod_error *err)
{
	CK_ATTRIBUTE *class = p11_kit_uri_get_attribute(u, CKA_CLASS);
	if (class && (class->ulValueLen != sizeof(CK_OBJECT_CLASS) ||
	              *(CK_OBJECT_CLASS *)class->pValue != CKO_PRIVATE_KEY)) {
		csod_fail(err, "pkcs11 URI: type must be private (a signing key)");
		return NULL;
	}
	PKCS11_KEY *keys = NULL, *found = NULL;
	unsigned int nkeys = 0, matches = 0;
	if (PKCS11_enumerate_keys(slot->token, &keys, &nkeys) < 0)
		nkeys = 0;
	for (unsigned int i = 0; i < nkeys; i++)
		if (key_matches(&keys[i], u)) {
			found = &keys[i];
			matches++;
		}
	if (matches > 1) {
		csod_fail(err,
		          "the pkcs11 URI is ambiguous: %u private keys on token \"%s\" "
		          "match it; add object= or id=",
		          matches, slot->token->label);
		return NULL;
	}
	EVP_PKEY *key = found ? PKCS11_get_private_key(found) : NULL;
	if (!key)
		csod_fail(err, "no private key on token \"%s\" matches the URI",
		          slot->token->label);
	return key;
}

EVP_PKEY *csod_pkcs11_load_key(const char *uri, csod_error *err)
{
	P11KitUri *u = csod_pkcs11_uri_parse(uri, err);
	if (!u)
		return NULL;
	EVP_PKEY *key = NULL;
	char pin[256];
	const char *module = csod_pkcs11_uri_module(u);
	if (uri_pin(u, pin, sizeof pin, err) < 0 || load_module(module, err) < 0)
		goto out;
	PKCS11_SLOT *slot = csod_pkcs11_find_slot(p11_ctx, p11_slots, p11_nslots, u, module, err);
	if (!slot)
		goto out;
	if (PKCS11_login(slot, 0, pin) < 0) {
		csod_fail(err, "login to token \"%s\" failed (wrong PIN?)", slot->token->label);
		goto out;
	}
	key = token_key(slot, u, err);
out:
	OPENSSL_cleanse(pin, sizeof pin);
	p11_kit_uri_free(u);
	return key;
}
