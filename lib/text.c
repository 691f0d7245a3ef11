#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The length of the valid UTF-8 sequence at s (n bytes left), 0 if the
 * byte there does not start one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF; /* bounds of the second byte */
	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0; /* overlong */
	else if (c == 0xED)
		hi = 0x9F; /* surrogates */
	else if (c == 0xF0)
		lo = 0x90; /* overlong */
	else if (c == 0xF4)
		hi = 0x8F; /* above U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if ((s[k] & 0xC0) != 0x80)
			return 0;
	return len;
}

int csod_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(p + i, len - i);
		if (!n)
			return 0;
		i += n;
	}
	return 1;
}

static int is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7F;
}

int csod_has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (is_control(*p))
			return 1;
	return 0;
}

const char *csod_text_problem(const char *s)
{
	if (!csod_utf8_valid(s, strlen(s)))
		return "is not valid UTF-8";
	if (csod_has_control(s))
		return "holds a control character";
	return NULL;
}

/* The next piece of the escaped text at *p (advancing it): at most 4 bytes
 * into piece, its length returned. */
static size_t next_piece(const unsigned char **p, size_t left, int keep_newline, char piece[5])
{
	const unsigned char *s = *p;
	size_t n = utf8_seq(s, left);
	if (n && !is_control(s[0])) {
		memcpy(piece, s, n);
		*p += n;
		return n;
	}
	*p += 1;
	if (s[0] == '\n' && keep_newline) {
		piece[0] = '\n';
		return 1;
	}
	const char *named = s[0] == '\n'   ? "\\n"
	                    : s[0] == '\r' ? "\\r"
	                    : s[0] == '\t' ? "\\t"
	                                   : NULL;
	if (named) {
		memcpy(piece, named, 2);
		return 2;
	}
	snprintf(piece, 5, "\\x%02x", s[0]);
	return 4;
}

static size_t escaped_length(const char *s, int keep_newline)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	size_t total = 0;
	char piece[5];
	while (p < end)
		total += next_piece(&p, (size_t)(end - p), keep_newline, piece);
	return total;
}

static char *escape_into(const char *s, char *out, size_t len, int keep_newline)
{
	if (len == 0)
		return out;
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	/* Cut only when the whole does not fit, leaving room for "...". */
	size_t room = escaped_length(s, keep_newline) < len ? len - 1 : (len > 4 ? len - 4 : 0);
	size_t o = 0;
	char piece[5];
	while (p < end) {
		size_t n = next_piece(&p, (size_t)(end - p), keep_newline, piece);
		if (o + n > room) {
			snprintf(out + o, len - o, "...");
			return out;
		}
		memcpy(out + o, piece, n);
		o += n;
	}
	out[o] = '\0';
	return out;
}

char *csod_escape_to(const char *s, char *out, size_t len)
{
	return escape_into(s, out, len, 0);
}

static char *escape_dup(const char *s, int keep_newline)
{
	size_t len = escaped_length(s, keep_newline) + 1;
	char *out = malloc(len);
	return out ? escape_into(s, out, len, keep_newline) : NULL;
}

char *csod_escape(const char *s)
{
	return escape_dup(s, 0);
}

char *csod_escape_lines(const char *s)
{
	return escape_dup(s, 1);
}

/* The entity for an HTML-special character, or NULL. Quotes are included
 * so that the result is safe in an attribute value as well as in text. */
static const char *html_entity(char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	default:
		return NULL;
	}
}

char *csod_html_escape(const char *s)
{
	char *shown = csod_escape(s);
	if (!shown)
		return NULL;
	size_t len = 1;
	for (const char *p = shown; *p; p++)
		len += html_entity(*p) ? strlen(html_entity(*p)) : 1;
	char *out = malloc(len);
	if (out) {
		char *o = out;
		for (const char *p = shown; *p; p++) {
			const char *e = html_entity(*p);
			size_t n = e ? strlen(e) : 1;
			memcpy(o, e ? e : p, n);
			o += n;
		}
		*o = '\0';
	}
	free(shown);
	return out;
}

static int url_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

char *csod_url_escape(const char *s)
{
	size_t len = 1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		len += url_unreserved(*p) ? 1 : 3;
	char *out = malloc(len);
	if (!out)
		return NULL;
	char *o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (url_unreserved(*p))
			*o++ = (char)*p;
		else
			o += sprintf(o, "%%%02X", *p);
	}
	*o = '\0';
	return out;
}

void csod_size_text(int64_t bytes, char *out, size_t len)
{
	static const char *const units[] = {"KB", "MB", "GB", "TB"};
	if (bytes < 1000) {
		snprintf(out, len, "%lld bytes", (long long)bytes);
		return;
	}
	double v = (double)bytes / 1000;
	int u = 0;
	while (v >= 999.5 && u < 3) {
		v /= 1000;
		u++;
	}
	if (v < 9.95)
		snprintf(out, len, "%.1f %s", v, units[u]);
	else
		snprintf(out, len, "%.0f %s", v, units[u]);
}
