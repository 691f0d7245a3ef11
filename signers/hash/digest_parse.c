#include "digest_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	size_t len;
} algorithms[] = {{"md5", 16}, {"sha1", 20}, {"sha256", 32}, {"sha384", 48}, {"sha512", 64}};

static const char *by_length(size_t hex_len)
{
	for (size_t i = 0; i < sizeof algorithms / sizeof algorithms[0]; i++)
		if (algorithms[i].len * 2 == hex_len)
			return algorithms[i].name;
	return NULL;
}

static const char *by_extension(const char *name)
{
	const char *dot = name ? strrchr(name, '.') : NULL;
	for (size_t i = 0; dot && i < sizeof algorithms / sizeof algorithms[0]; i++)
		if (strcasecmp(dot + 1, algorithms[i].name) == 0)
			return algorithms[i].name;
	return NULL;
}

/* Whether a BSD-style tag ("SHA256", "SHA-256", "MD5") names alg. */
static int tag_names(const char *tag, size_t len, const char *alg)
{
	size_t a = 0;
	for (size_t i = 0; i < len; i++) {
		if (tag[i] == '-')
			continue;
		if (!alg[a] || tolower((unsigned char)tag[i]) != alg[a])
			return 0;
		a++;
	}
	return alg[a] == '\0';
}

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

int csod_digest_parse(const char *text, size_t len, const char *name, csod_parsed_digest *out,
                      csod_error *err)
{
	const char *what = name ? name : "digest file";
	memset(out, 0, sizeof *out);
	if (len == 0)
		return csod_fail(err, "%s: is empty", what);
	if (len > CSOD_DIGEST_FILE_MAX)
		return csod_fail(err, "%s: larger than %d bytes; a digest file holds one digest",
		                 what, CSOD_DIGEST_FILE_MAX);
	if (memchr(text, '\0', len))
		return csod_fail(err, "%s: is not text", what);
	/* One meaningful line: skip blank lines around it. */
	const char *p = text, *end = text + len;
	while (p < end && isspace((unsigned char)*p))
		p++;
	const char *eol = memchr(p, '\n', (size_t)(end - p));
	const char *line_end = eol ? eol : end;
	int line = 1;
	for (const char *q = text; q < line_end; q++)
		line += *q == '\n';
	for (const char *q = line_end; q < end; q++) {
		line += *q == '\n';
		if (!isspace((unsigned char)*q))
			return csod_fail(err,
			                 "%s: line %d: holds more than one line; give one "
			                 "digest per file",
			                 what, line);
	}
	/* BSD style: "SHA256 (name) = hex". */
	const char *hex = p, *tag = NULL;
	size_t tag_len = 0;
	const char *eq = memchr(p, '=', (size_t)(line_end - p));
	const char *paren = eq ? memchr(p, '(', (size_t)(eq - p)) : NULL;
	if (paren) {
		tag = p;
		tag_len = (size_t)(paren - p);
		while (tag_len > 0 && tag[tag_len - 1] == ' ')
			tag_len--;
		hex = eq + 1;
		while (hex < line_end && *hex == ' ')
			hex++;
	}
	size_t n = 0;
	while (hex + n < line_end && isxdigit((unsigned char)hex[n]))
		n++;
	const char *after = hex + n;
	/* After the digest: end of line, or sha256sum's "  name" / " *name". */
	if (after < line_end && !isspace((unsigned char)*after))
		return csod_fail(err, "%s: '%c' is not a hexadecimal digit", what, *after);
	if (n == 0)
		return csod_fail(err, "%s: no hexadecimal digest found", what);
	const char *alg = by_length(n);
	if (!alg)
		return csod_fail(err,
		                 "%s: a %zu-digit digest is no MD5, SHA-1, SHA-256, SHA-384 or "
		                 "SHA-512",
		                 what, n);
	if (tag && !tag_names(tag, tag_len, alg))
		return csod_fail(err, "%s: says %.*s but holds a %zu-digit digest, which is %s",
		                 what, (int)(tag_len > 16 ? 16 : tag_len), tag, n, alg);
	const char *hinted = by_extension(name);
	if (hinted && strcmp(hinted, alg) != 0)
		return csod_fail(err, "%s: holds a %zu-digit digest, which is %s, not %s", what, n,
		                 alg, hinted);
	snprintf(out->algorithm, sizeof out->algorithm, "%s", alg);
	out->len = n / 2;
	for (size_t i = 0; i < out->len; i++)
		out->value[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
	return 0;
}
