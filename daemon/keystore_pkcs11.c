#include "keystore_pkcs11.h"

#include <fcntl.h>
#include <libp11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../lib/fsutil.h"
#include "../lib/pkcs11_uri.h"

struct csod_token {
	PKCS11_CTX *ctx;
	PKCS11_SLOT *slots;
	unsigned int n_slots;
	PKCS11_SLOT *slot;
	int loaded; /* unloading a module that failed to load double-frees */
	char module[1024];
	struct rescan *rescans; /* newest first */
	int n_rescans;
};

/* A fresh list of the module's slots, read to find a key another process
 * made (below); kept until the token is closed, since keys taken from it
 * refer to it. */
struct rescan {
	PKCS11_SLOT *slots;
	unsigned int n_slots;
	PKCS11_SLOT *slot;
	struct rescan *next;
};
#define MAX_RESCANS 4096

static int read_pin(const char *path, char *pin, size_t cap, csod_error *err)
{
	off_t size = 0;
	int fd = csod_open_secret(path, "PKCS#11 PIN file", &size, err);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, pin, cap - 1);
	close(fd);
	if (n < 0)
		return csod_fail_errno(err, "cannot read the PKCS#11 PIN file %s", path);
	while (n > 0 && (pin[n - 1] == '\n' || pin[n - 1] == '\r'))
		n--;
	pin[n] = '\0';
	if (n == 0)
		return csod_fail(err, "PKCS#11 PIN file %s is empty", path);
	return 0;
}

csod_token *csod_token_open(const char *module, const char *label, const char *pin_file,
                            csod_error *err)
{
	csod_token *t = calloc(1, sizeof *t);
	char pin[256];
	if (!t) {
		csod_fail(err, "out of memory");
		return NULL;
	}
	P11KitUri *uri = NULL;
	/* token may be a pkcs11: URI, matched as csod-sign matches it. */
	if (strncmp(label, "pkcs11:", 7) == 0 && !(uri = csod_pkcs11_uri_parse(label, err)))
		goto fail;
	if (!module)
		module = uri ? csod_pkcs11_uri_module(uri) : csod_pkcs11_uri_module(NULL);
	snprintf(t->module, sizeof t->module, "%s", module);
	module = t->module;
	if (read_pin(pin_file, pin, sizeof pin, err) < 0)
		goto fail;
	t->ctx = PKCS11_CTX_new();
	if (!t->ctx || PKCS11_CTX_load(t->ctx, module) < 0) {
		csod_fail(err, "cannot load the PKCS#11 module %s", module);
		goto fail;
	}
	t->loaded = 1;
	if (PKCS11_enumerate_slots(t->ctx, &t->slots, &t->n_slots) < 0) {
		csod_fail(err, "PKCS#11 module %s: cannot list its slots", module);
		goto fail;
	}
	if (uri)
		t->slot = csod_pkcs11_find_slot(t->ctx, t->slots, t->n_slots, uri, module, err);
	else
		for (PKCS11_SLOT *s = PKCS11_find_token(t->ctx, t->slots, t->n_slots); s;
		     s = PKCS11_find_next_token(t->ctx, t->slots, t->n_slots, s))
			if (s->token->initialized && strcmp(s->token->label, label) == 0) {
				t->slot = s;
				break;
			}
	if (!t->slot && uri)
		goto fail;
	if (!t->slot) {
		csod_fail(err, "PKCS#11 module %s has no token labelled \"%s\"", module, label);
		goto fail;
	}
	/* Read/write: key generation writes objects on the token. */
	label = t->slot->token->label;
	if (PKCS11_open_session(t->slot, 1) < 0) {
		csod_fail(err, "cannot open a session on token \"%s\"", label);
		goto fail;
	}
	if (PKCS11_login(t->slot, 0, pin) < 0) {
		csod_fail(err, "login to token \"%s\" failed (wrong PIN in %s?)", label, pin_file);
		goto fail;
	}
	OPENSSL_cleanse(pin, sizeof pin);
	if (uri)
		p11_kit_uri_free(uri);
	return t;
fail:
	OPENSSL_cleanse(pin, sizeof pin);
	if (uri)
		p11_kit_uri_free(uri);
	csod_token_close(t);
	return NULL;
}

void csod_token_close(csod_token *t)
{
	if (!t)
		return;
	while (t->rescans) {
		struct rescan *r = t->rescans;
		t->rescans = r->next;
		PKCS11_release_all_slots(t->ctx, r->slots, r->n_slots);
		free(r);
	}
	if (t->slots)
		PKCS11_release_all_slots(t->ctx, t->slots, t->n_slots);
	if (t->loaded)
		PKCS11_CTX_unload(t->ctx);
	if (t->ctx)
		PKCS11_CTX_free(t->ctx);
	free(t);
}

const char *csod_token_label(const csod_token *t)
{
	return t->slot->token->label;
}

int csod_token_generate(csod_token *t, int bits, const unsigned char *id, size_t id_len,
                        const char *key_label, csod_error *err)
{
	/* libp11 0.4.12's generator makes the private key CKA_SENSITIVE and
	 * not CKA_EXTRACTABLE, which is what we need; its successor
	 * (PKCS11_keygen) is not in Debian 12. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	int rc = PKCS11_generate_key(t->slot->token, EVP_PKEY_RSA, (unsigned int)bits,
	                             (char *)key_label, (unsigned char *)id, id_len);
#pragma GCC diagnostic pop
	if (rc < 0)
		return csod_fail(err,
		                 "cannot generate an RSA-%d key on token \"%s\" (token full, or "
		                 "the size not supported?)",
		                 bits, csod_token_label(t));
	return 0;
}

/* The private key with CKA_ID id among token's keys, or NULL; *found
 * says whether there is one (its EVP_PKEY may still fail). */
static EVP_PKEY *find_key(PKCS11_TOKEN *token, const unsigned char *id, size_t id_len, int *found)
{
	PKCS11_KEY *keys = NULL;
	unsigned int n = 0;
	if (PKCS11_enumerate_keys(token, &keys, &n) < 0)
		n = 0;
	/* The newest of one id: libp11 appends the keys this process makes,
	 * and may still list one it removed (csod_token_remove). */
	for (unsigned int i = n; i-- > 0;)
		if (keys[i].isPrivate && keys[i].id_len == id_len &&
		    memcmp(keys[i].id, id, id_len) == 0) {
			*found = 1;
			return PKCS11_get_private_key(&keys[i]);
		}
	return NULL;
}

/* A fresh list of the token's slot, kept (libp11 releases a slot list
 * with C_CloseAllSessions, which would also end the daemon's own session
 * and its login), or NULL. */
static struct rescan *rescan(csod_token *t)
{
	if (t->n_rescans >= MAX_RESCANS)
		return NULL;
	struct rescan *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	unsigned long want = PKCS11_get_slotid_from_slot(t->slot);
	if (PKCS11_enumerate_slots(t->ctx, &r->slots, &r->n_slots) < 0) {
		free(r);
		return NULL;
	}
	for (unsigned int i = 0; i < r->n_slots && !r->slot; i++)
		if (r->slots[i].token && PKCS11_get_slotid_from_slot(&r->slots[i]) == want)
			r->slot = &r->slots[i];
	r->next = t->rescans;
	t->rescans = r;
	t->n_rescans++;
	return r->slot ? r : NULL;
}

/* libp11 lists a token's keys once and afterwards adds only those this
 * process makes: a key another node of a cluster made on the shared token
 * is not in that list. A fresh list of the slots has its own, read from the
 * token now. Its session shares the login (PKCS#11 logs in the whole
 * application). */
static EVP_PKEY *find_key_rescan(csod_token *t, const unsigned char *id, size_t id_len, int *found)
{
	struct rescan *r = rescan(t);
	return r ? find_key(r->slot->token, id, id_len, found) : NULL;
}

void csod_token_refresh(csod_token *t)
{
	/* A fresh list is searched on the token (C_FindObjects). */
	struct rescan *r = rescan(t);
	PKCS11_KEY *keys = NULL;
	unsigned int n = 0;
	if (r)
		PKCS11_enumerate_keys(r->slot->token, &keys, &n);
}

EVP_PKEY *csod_token_key(csod_token *t, const unsigned char *id, size_t id_len, csod_error *err)
{
	int found = 0;
	EVP_PKEY *key = find_key(t->slot->token, id, id_len, &found);
	for (struct rescan *r = t->rescans; !found && r; r = r->next)
		key = find_key(r->slot->token, id, id_len, &found);
	if (!found)
		key = find_key_rescan(t, id, id_len, &found);
	if (!found)
		csod_fail(err, "token \"%s\" has no private key %.*s", csod_token_label(t),
		          (int)id_len, (const char *)id);
	else if (!key)
		csod_fail(err, "token \"%s\": cannot use key %.*s", csod_token_label(t),
		          (int)id_len, (const char *)id);
	return key;
}

/* Removes every object with CKA_ID id of one kind, in one pass over
 * libp11's list (which may still list a removed key afterwards: find_key
 * takes the newest of one id). */
static int remove_with_id(PKCS11_TOKEN *token, int public, const unsigned char *id, size_t id_len)
{
	PKCS11_KEY *keys = NULL;
	unsigned int n = 0;
	int rc = public ? PKCS11_enumerate_public_keys(token, &keys, &n)
	                : PKCS11_enumerate_keys(token, &keys, &n);
	for (unsigned int i = 0; rc == 0 && i < n; i++)
		if (keys[i].id_len == id_len && memcmp(keys[i].id, id, id_len) == 0)
			rc = PKCS11_remove_key(&keys[i]) < 0 ? -1 : 0;
	return rc;
}

int csod_token_remove(csod_token *t, const unsigned char *id, size_t id_len)
{
	int a = remove_with_id(t->slot->token, 0, id, id_len);
	int b = remove_with_id(t->slot->token, 1, id, id_len);
	return a < 0 || b < 0 ? -1 : 0;
}
