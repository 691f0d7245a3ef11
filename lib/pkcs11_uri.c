#include "pkcs11_uri.h"

#include <ctype.h>
#include <libp11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fsutil.h"

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* Percent-decodes [p, end) into out; returns the length or -1. */
static long decode(const char *p, const char *end, unsigned char *out, size_t cap)
{
	size_t n = 0;
	while (p < end) {
		unsigned char c = (unsigned char)*p++;
		if (c == '%') {
			if (end - p < 2 || !isxdigit((unsigned char)p[0]) ||
			    !isxdigit((unsigned char)p[1]))
				return -1;
			c = (unsigned char)(hexval(p[0]) << 4 | hexval(p[1]));
			p += 2;
		}
		if (n + 1 >= cap)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return (long)n;
}

static int take(const char *name, const char *value, const char *end, csod_pkcs11_uri *u,
                csod_error *err)
{
	char text[1024];
	long n;
	if (strcmp(name, "id") == 0) {
		n = decode(value, end, u->id, sizeof u->id);
		u->id_len = n > 0 ? (size_t)n : 0;
		return n < 0 ? csod_fail(err, "pkcs11 URI: bad id") : 0;
	}
	n = decode(value, end, (unsigned char *)text, sizeof text);
	if (n < 0)
		return csod_fail(err, "pkcs11 URI: bad value for %s", name);
	if (strcmp(name, "token") == 0)
		snprintf(u->token, sizeof u->token, "%s", text);
	else if (strcmp(name, "object") == 0)
		snprintf(u->object, sizeof u->object, "%s", text);
	else if (strcmp(name, "module-path") == 0)
		snprintf(u->module, sizeof u->module, "%s", text);
	else if (strcmp(name, "pin-value") == 0)
		snprintf(u->pin, sizeof u->pin, "%s", text);
	else if (strcmp(name, "pin-source") == 0) {
		const char *path = strncmp(text, "file:", 5) == 0 ? text + 5 : text;
		char *pin = NULL;
		size_t len = 0;
		if (csod_read_file(path, sizeof u->pin - 1, &pin, &len, err) < 0)
			return -1;
		while (len > 0 && (pin[len - 1] == '\n' || pin[len - 1] == '\r'))
			pin[--len] = '\0';
		snprintf(u->pin, sizeof u->pin, "%s", pin);
		OPENSSL_cleanse(pin, len);
		free(pin);
	}
	OPENSSL_cleanse(text, sizeof text);
	return 0; /* other attributes (type, manufacturer, ...) do not narrow our search */
}

int csod_pkcs11_uri_parse(const char *uri, csod_pkcs11_uri *u, csod_error *err)
{
	memset(u, 0, sizeof *u);
	if (strncmp(uri, "pkcs11:", 7) != 0)
		return csod_fail(err, "not a pkcs11: URI");
	const char *p = uri + 7;
	int query = 0;
	while (*p) {
		const char *sep = p + strcspn(p, query ? "&" : ";?");
		const char *eq = memchr(p, '=', (size_t)(sep - p));
		if (eq) {
			char name[32];
			snprintf(name, sizeof name, "%.*s", (int)(eq - p), p);
			if (take(name, eq + 1, sep, u, err) < 0)
				return -1;
		}
		if (*sep == '?')
			query = 1;
		p = *sep ? sep + 1 : sep;
	}
	if (!u->module[0])
		return csod_fail(err, "pkcs11 URI: module-path is required");
	return 0;
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

EVP_PKEY *csod_pkcs11_load_key(const char *uri, csod_error *err)
{
	csod_pkcs11_uri u;
	if (csod_pkcs11_uri_parse(uri, &u, err) < 0)
		return NULL;
	EVP_PKEY *key = NULL;
	if (!p11_ctx) {
		p11_ctx = PKCS11_CTX_new();
		if (!p11_ctx || PKCS11_CTX_load(p11_ctx, u.module) < 0) {
			csod_fail(err, "cannot load the PKCS#11 module %s", u.module);
			/* Not through csod_pkcs11_unload: PKCS11_CTX_unload of a
			 * module that did not load dereferences NULL. */
			PKCS11_CTX_free(p11_ctx);
			p11_ctx = NULL;
			goto out;
		}
		if (PKCS11_enumerate_slots(p11_ctx, &p11_slots, &p11_nslots) < 0) {
			csod_fail(err, "%s: cannot list its slots", u.module);
			goto out;
		}
	}
	PKCS11_SLOT *slot = NULL;
	for (PKCS11_SLOT *s = PKCS11_find_token(p11_ctx, p11_slots, p11_nslots); s;
	     s = PKCS11_find_next_token(p11_ctx, p11_slots, p11_nslots, s))
		if (!u.token[0] || strcmp(s->token->label, u.token) == 0) {
			slot = s;
			break;
		}
	if (!slot) {
		csod_fail(err, "no PKCS#11 token labelled \"%s\"", u.token);
		goto out;
	}
	if (PKCS11_login(slot, 0, u.pin) < 0) {
		csod_fail(err, "login to token \"%s\" failed (wrong PIN?)", slot->token->label);
		goto out;
	}
	PKCS11_KEY *keys = NULL;
	unsigned int nkeys = 0;
	if (PKCS11_enumerate_keys(slot->token, &keys, &nkeys) < 0)
		nkeys = 0;
	for (unsigned int i = 0; i < nkeys && !key; i++) {
		if (u.object[0] && (!keys[i].label || strcmp(keys[i].label, u.object) != 0))
			continue;
		if (u.id_len && (keys[i].id_len != u.id_len || memcmp(keys[i].id, u.id, u.id_len)))
			continue;
		key = PKCS11_get_private_key(&keys[i]);
	}
	if (!key)
		csod_fail(err, "no private key \"%s\" on token \"%s\"", u.object,
		          slot->token->label);
out:
	OPENSSL_cleanse(u.pin, sizeof u.pin);
	return key;
}
