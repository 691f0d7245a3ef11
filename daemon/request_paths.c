/* Request folders and the paths people are shown (request_paths.h). */
#include "request_paths.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/fsutil.h"
#include "../lib/text.h"

/* Room for the id, two spaces and what the folder may be given besides. */
#define FOLDER_MAX 200

/* The longest prefix of s, at most max bytes, that ends on a character. */
static size_t utf8_cut(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

int csod_request_folder(const csod_request *r, char *out, size_t len)
{
	/* Shown escaped, as everywhere: a request recorded before names were
	 * checked at intake may hold bytes that are not UTF-8. */
	char drop[CSOD_SHOWN_MAX], version[CSOD_SHOWN_MAX];
	csod_escape_to(r->drop_name, drop, sizeof drop);
	csod_escape_to(r->version, version, sizeof version);
	char name[FOLDER_MAX + 1];
	size_t used = (size_t)snprintf(name, sizeof name, "%s", r->id);
	if (drop[0] && used + 1 < FOLDER_MAX) {
		size_t n = utf8_cut(drop, FOLDER_MAX - used - 1);
		used += (size_t)snprintf(name + used, sizeof name - used, " %.*s", (int)n, drop);
	}
	if (version[0] && used + 1 < FOLDER_MAX) {
		size_t n = utf8_cut(version, FOLDER_MAX - used - 1);
		size_t at = used + 1;
		used += (size_t)snprintf(name + used, sizeof name - used, " %.*s", (int)n, version);
		for (size_t i = at; i < used; i++)
			if (name[i] == '/')
				name[i] = '_';
	}
	return csod_path(out, len, "%s", name);
}

int csod_request_outbox(const char *spool, const csod_request *r, char *out, size_t len)
{
	struct stat st;
	if (csod_path(out, len, "%s/outbox/%s/%s", spool, r->developer, r->id) == 0 &&
	    lstat(out, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	char folder[FOLDER_MAX + 1];
	if (csod_request_folder(r, folder, sizeof folder) < 0)
		return -1;
	return csod_path(out, len, "%s/outbox/%s/%s", spool, r->developer, folder);
}

int csod_shared_path(const csod_config *cfg, const char *rel, char *out, size_t len)
{
	const char *base = cfg->share_path ? cfg->share_path : cfg->spool;
	char sep = strchr(base, '\\') ? '\\' : '/';
	size_t blen = strlen(base);
	while (blen > 1 && (base[blen - 1] == '/' || base[blen - 1] == '\\'))
		blen--;
	if (csod_path(out, len, "%.*s%c%s", (int)blen, base, sep, rel) < 0)
		return -1;
	if (sep == '\\')
		for (char *p = out + blen; *p; p++)
			if (*p == '/')
				*p = '\\';
	return 0;
}

int csod_request_outbox_shown(const csod_config *cfg, const char *spool, const csod_request *r,
                              char *out, size_t len)
{
	char server[PATH_MAX];
	out[0] = '\0';
	if (csod_request_outbox(spool, r, server, sizeof server) < 0)
		return -1;
	return csod_shared_path(cfg, server + strlen(spool) + 1, out, len);
}

int csod_verify_command(const char *engine, const char *signed_path, const char *chain, char *out,
                        size_t len)
{
	if (strcmp(engine, "hash") == 0)
		return csod_path(out, len,
		                 "openssl cms -verify -binary -inform DER -in \"%s\" -content "
		                 "<your file> -CAfile \"%s\" -purpose any",
		                 signed_path, chain);
	if (strcmp(engine, "jar") == 0)
		return csod_path(out, len, "jarsigner -verify -strict \"%s\"", signed_path);
	if (strcmp(engine, "apk") == 0)
		return csod_path(out, len, "apksigner verify -v \"%s\"", signed_path);
	return csod_path(out, len, "osslsigncode verify -CAfile \"%s\" -in \"%s\"", chain,
	                 signed_path);
}
