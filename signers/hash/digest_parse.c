#include "digest_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../lib/text.h"

#define SIG_SUFFIX_LEN 4 /* ".p7s", what a line's signature adds to its name */
#define NAME_MAX_BYTES 255

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

/* A BSD line ("SHA256 (name) = hex") starts with a short tag of letters,
 * digits and dashes (shorter than any digest), then " (". Sets the tag, the name and where the hex
 * starts; 0 when the line is not one. The name runs to the last ") =", so that it may hold
 * parentheses and '=' itself. */
static int split_bsd(const char *p, const char *end, size_t *tag_len, const char **name,
                     size_t *name_len, const char **hex)
{
	size_t t = 0;
	while (p + t < end && (isalnum((unsigned char)p[t]) || p[t] == '-'))
		t++;
	const char *q = p + t;
	while (q < end && *q == ' ')
		q++;
	if (t == 0 || t > 10 || q >= end || *q != '(')
		return 0;
	const char *eq = end;
	while (eq > q && eq[-1] != '=')
		eq--;
	if (eq == q)
		return 0;
	const char *close = eq - 1;
	while (close > q && close[-1] == ' ')
		close--;
	if (close <= q + 1 || close[-1] != ')')
		return 0;
	*tag_len = t;
	*name = q + 1;
	*name_len = (size_t)(close - 1 - (q + 1));
	*hex = eq;
	while (*hex < end && **hex == ' ')
		(*hex)++;
	return 1;
}

/* One line [p, end), its newline left out. what names it in errors, hint
 * is the file's name for the algorithm its extension implies. */
static int parse_line(const char *p, const char *end, const char *what, const char *hint,
                      csod_parsed_digest *out, csod_error *err)
{
	memset(out, 0, sizeof *out);
	while (p < end && isspace((unsigned char)*p))
		p++;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	const char *hex = p, *name = NULL;
	size_t tag_len = 0, name_len = 0;
	int bsd = split_bsd(p, end, &tag_len, &name, &name_len, &hex);
	size_t n = 0;
	while (hex + n < end && isxdigit((unsigned char)hex[n]))
		n++;
	const char *after = hex + n;
	/* After the digest: end of line, or sha256sum's "  name" / " *name". */
	if (after < end && (bsd || !isspace((unsigned char)*after)))
		return csod_fail(err, "%s: '%c' is not a hexadecimal digit", what, *after);
	if (n == 0)
		return csod_fail(err, "%s: no hexadecimal digest found", what);
	if (!bsd && after < end) {
		name = after + 1;
		if (name < end && (*name == ' ' || *name == '*'))
			name++;
		name_len = (size_t)(end - name);
	}
	const char *alg = by_length(n);
	if (!alg)
		return csod_fail(err,
		                 "%s: a %zu-digit digest is no MD5, SHA-1, SHA-256, SHA-384 or "
		                 "SHA-512",
		                 what, n);
	if (bsd && !tag_names(p, tag_len, alg))
		return csod_fail(err, "%s: says %.*s but holds a %zu-digit digest, which is %s",
		                 what, (int)(tag_len > 16 ? 16 : tag_len), p, n, alg);
	const char *hinted = by_extension(hint);
	if (hinted && strcmp(hinted, alg) != 0)
		return csod_fail(err, "%s: holds a %zu-digit digest, which is %s, not %s", what, n,
		                 alg, hinted);
	snprintf(out->algorithm, sizeof out->algorithm, "%s", alg);
	out->len = n / 2;
	for (size_t i = 0; i < out->len; i++)
		out->value[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
	out->file_len = name_len;
	if (name)
		snprintf(out->file, sizeof out->file, "%.*s",
		         (int)(name_len < sizeof out->file ? name_len : sizeof out->file - 1),
		         name);
	return 0;
}

static int check_text(const char *text, size_t len, const char *what, csod_error *err)
{
	if (len == 0)
		return csod_fail(err, "%s: is empty", what);
	if (len > CSOD_DIGEST_FILE_MAX)
		return csod_fail(err, "%s: larger than %d bytes; a digest file holds one digest",
		                 what, CSOD_DIGEST_FILE_MAX);
	if (memchr(text, '\0', len))
		return csod_fail(err, "%s: is not text", what);
	return 0;
}

static int is_blank(const char *p, const char *end)
{
	for (; p < end; p++)
		if (!isspace((unsigned char)*p))
			return 0;
	return 1;
}

/* Calls fn for each line that is not blank, with its number. */
static int each_line(const char *text, size_t len,
                     int (*fn)(void *ctx, int line, const char *p, const char *end), void *ctx)
{
	const char *p = text, *end = text + len;
	int line = 0, rc = 0;
	while (p < end && rc == 0) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = eol ? eol : end;
		line++;
		if (!is_blank(p, line_end))
			rc = fn(ctx, line, p, line_end);
		p = eol ? eol + 1 : end;
	}
	return rc;
}

static int count_line(void *ctx, int line, const char *p, const char *end)
{
	(void)line, (void)p, (void)end;
	++*(int *)ctx;
	return 0;
}

typedef struct one_line {
	const char *p, *end;
} one_line;

static int find_line(void *ctx, int line, const char *p, const char *end)
{
	(void)line;
	*(one_line *)ctx = (one_line){p, end};
	return 1;
}

int csod_digest_parse(const char *text, size_t len, const char *name, csod_parsed_digest *out,
                      csod_error *err)
{
	const char *what = name ? name : "digest file";
	memset(out, 0, sizeof *out);
	if (check_text(text, len, what, err) < 0)
		return -1;
	int lines = 0;
	each_line(text, len, count_line, &lines);
	if (lines > 1) {
		/* The list's own refusal names the first bad line. */
		csod_digest_line *all = NULL;
		int n = 0;
		if (csod_digest_list(text, len, name, &all, &n, err) < 0)
			return -1;
		free(all);
		return csod_fail(err, "%s: lists %d files; each is signed on its own", what, n);
	}
	one_line l = {text, text};
	each_line(text, len, find_line, &l);
	return parse_line(l.p, l.end, what, name, out, err);
}

typedef struct list_ctx {
	const char *name;
	csod_digest_line *lines;
	int n;
	csod_error *err;
} list_ctx;

/* A line's file name becomes the name of its signature in a folder:
 * nothing that leaves the folder, hides or is two names at once. */
static int check_file_name(const csod_digest_line *l, const char *what, csod_error *err)
{
	const csod_parsed_digest *d = &l->digest;
	char shown[64];
	if (d->file_len == 0)
		return csod_fail(
		    err,
		    "%s: names no file, and the file holds more than one digest: give "
		    "one digest per file, or a file name on every line (\"HASH  NAME\" "
		    "as sha256sum writes it, or \"SHA256 (NAME) = HASH\")",
		    what);
	if (d->file_len + SIG_SUFFIX_LEN > NAME_MAX_BYTES || d->file_len >= sizeof d->file)
		return csod_fail(
		    err, "%s: the file name is longer than %d bytes (its signature adds .p7s)",
		    what, NAME_MAX_BYTES - SIG_SUFFIX_LEN);
	const char *problem = csod_text_problem(d->file);
	if (problem)
		return csod_fail(err, "%s: the file name %s %s", what,
		                 csod_escape_to(d->file, shown, sizeof shown), problem);
	if (strchr(d->file, '/'))
		return csod_fail(err,
		                 "%s: names a path (%s); give file names only, the signatures are "
		                 "named after them",
		                 what, csod_escape_to(d->file, shown, sizeof shown));
	if (strcmp(d->file, ".") == 0 || strcmp(d->file, "..") == 0)
		return csod_fail(err, "%s: names '%s', which is no file", what, d->file);
	return 0;
}

static int take_line(void *ctx, int line, const char *p, const char *end)
{
	list_ctx *c = ctx;
	char what[CSOD_SHOWN_MAX + 32];
	snprintf(what, sizeof what, "%s: line %d", c->name ? c->name : "digest file", line);
	const char *first = p;
	while (first < end && isspace((unsigned char)*first))
		first++;
	if (*first == '\\')
		return csod_fail(c->err,
		                 "%s: an escaped file name (sha256sum's leading '\\' for a name "
		                 "holding a backslash or newline) is not supported",
		                 what);
	csod_digest_line *l = &c->lines[c->n];
	*l = (csod_digest_line){.line = line, .text = p, .len = (size_t)(end - p)};
	if (parse_line(p, end, what, c->name, &l->digest, c->err) < 0 ||
	    check_file_name(l, what, c->err) < 0)
		return -1;
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->lines[i].digest.file, l->digest.file) == 0) {
			char shown[64];
			return csod_fail(
			    c->err, "%s: names %s again (line %d): one digest per file", what,
			    csod_escape_to(l->digest.file, shown, sizeof shown), c->lines[i].line);
		}
	c->n++;
	return 0;
}

int csod_digest_list(const char *text, size_t len, const char *name, csod_digest_line **lines,
                     int *n, csod_error *err)
{
	*lines = NULL;
	*n = 0;
	if (check_text(text, len, name ? name : "digest file", err) < 0)
		return -1;
	int count = 0;
	each_line(text, len, count_line, &count);
	if (count < 2) {
		*n = count;
		return 0;
	}
	list_ctx c = {name, calloc((size_t)count, sizeof *c.lines), 0, err};
	if (!c.lines)
		return csod_fail(err, "out of memory");
	if (each_line(text, len, take_line, &c) != 0) {
		free(c.lines);
		return -1;
	}
	*lines = c.lines;
	*n = c.n;
	return 0;
}
