#include "script_format.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* The comment syntax of a kind's signature block, its SIP, and which
 * hashing rules it follows. */
typedef struct kind_syntax {
	const char *name;
	const char *header, *footer; /* the block's first and last lines */
	const char *open, *close;    /* around each base64 line */
	int wsh;                     /* WSH rules: BOM not hashed, position appended */
	/* Windows reads a file of this kind without a BOM in the ANSI code
	 * page, where tools disagree on what non-ASCII text hashes to. */
	int ascii_without_bom;
	const unsigned char *sip;
	size_t sip_len;
} kind_syntax;

/* SpcSipInfo { version, the SIP's GUID (as Windows stores it), five zero
 * integers }: PowerShell's SIP is version 65536, WSH's version 1. */
#define SIP_ZEROS                                                                                  \
	0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00
static const unsigned char sip_ps[] = {0x30, 0x26, 0x02, 0x03, 0x01, 0x00, 0x00, 0x04,     0x10,
                                       0x1f, 0xcc, 0x3b, 0x60, 0x59, 0x4b, 0x08, 0x4e,     0xb7,
                                       0x24, 0xd2, 0xc6, 0x29, 0x7e, 0xf3, 0x51, SIP_ZEROS};
/* {1629F04E-2799-4DB5-8FE5-ACE10F17EBAB} */
static const unsigned char sip_vbs[] = {0x30, 0x24, 0x02, 0x01, 0x01, 0x04, 0x10, 0x4e,
                                        0xf0, 0x29, 0x16, 0x99, 0x27, 0xb5, 0x4d, 0x8f,
                                        0xe5, 0xac, 0xe1, 0x0f, 0x17, 0xeb, 0xab, SIP_ZEROS};
/* {06C9E010-38CE-11D4-A2A3-00104BD35090} */
static const unsigned char sip_js[] = {0x30, 0x24, 0x02, 0x01, 0x01, 0x04, 0x10, 0x10,
                                       0xe0, 0xc9, 0x06, 0xce, 0x38, 0xd4, 0x11, 0xa2,
                                       0xa3, 0x00, 0x10, 0x4b, 0xd3, 0x50, 0x90, SIP_ZEROS};
/* {1A610570-38CE-11D4-A2A3-00104BD35090} */
static const unsigned char sip_wsf[] = {0x30, 0x24, 0x02, 0x01, 0x01, 0x04, 0x10, 0x70,
                                        0x05, 0x61, 0x1a, 0xce, 0x38, 0xd4, 0x11, 0xa2,
                                        0xa3, 0x00, 0x10, 0x4b, 0xd3, 0x50, 0x90, SIP_ZEROS};

static const kind_syntax kinds[CSOD_SCRIPT_KINDS] = {
    [CSOD_SCRIPT_PS] = {"PowerShell script", "# SIG # Begin signature block",
                        "# SIG # End signature block", "# ", "", 0, 0, sip_ps, sizeof sip_ps},
    [CSOD_SCRIPT_PSXML] = {"PowerShell XML file", "<!-- SIG # Begin signature block -->",
                           "<!-- SIG # End signature block -->", "<!-- ", " -->", 0, 1, sip_ps,
                           sizeof sip_ps},
    [CSOD_SCRIPT_VBS] = {"VBScript", "'' SIG '' Begin signature block",
                         "'' SIG '' End signature block", "'' SIG '' ", "", 1, 1, sip_vbs,
                         sizeof sip_vbs},
    [CSOD_SCRIPT_JS] = {"JScript", "// SIG // Begin signature block",
                        "// SIG // End signature block", "// SIG // ", "", 1, 1, sip_js,
                        sizeof sip_js},
    [CSOD_SCRIPT_WSF] = {"Windows Script File", "<signature>", "</signature>", "** SIG ** ", "", 1,
                         0, sip_wsf, sizeof sip_wsf},
};

const char *csod_script_kind_name(csod_script_kind kind)
{
	return kinds[kind].name;
}

const unsigned char *csod_script_sip_info(csod_script_kind kind, size_t *len)
{
	*len = kinds[kind].sip_len;
	return kinds[kind].sip;
}

/* The code unit at byte offset at (a byte in UTF-8, a UTF-16LE unit). */
static unsigned unit_at(const csod_script *s, size_t at)
{
	return s->unit == 1 ? s->p[at] : (unsigned)s->p[at] | (unsigned)s->p[at + 1] << 8;
}

/* Strict UTF-8 (no overlong forms, surrogates or values past U+10FFFF);
 * the offset of the first bad byte in *bad. */
static int valid_utf8(const unsigned char *p, size_t len, size_t *bad, int *ascii)
{
	*ascii = 1;
	for (size_t i = 0; i < len;) {
		uint64_t word; /* ASCII, eight bytes at a time */
		while (len - i >= 8 && (memcpy(&word, p + i, 8), !(word & 0x8080808080808080u)))
			i += 8;
		if (i == len)
			break;
		unsigned c = p[i];
		size_t n = c < 0x80                 ? 0
		           : c >= 0xc2 && c <= 0xdf ? 1
		           : (c & 0xf0) == 0xe0     ? 2
		           : c >= 0xf0 && c <= 0xf4 ? 3
		                                    : 9;
		if (n == 9 || len - i <= n)
			goto bad;
		if (n)
			*ascii = 0;
		unsigned second = n ? p[i + 1] : 0;
		if ((c == 0xe0 && second < 0xa0) || (c == 0xed && second >= 0xa0) ||
		    (c == 0xf0 && second < 0x90) || (c == 0xf4 && second >= 0x90))
			goto bad;
		for (size_t k = 1; k <= n; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				goto bad;
		i += n + 1;
		continue;
	bad:
		*bad = i;
		return 0;
	}
	return 1;
}

/* Every high surrogate followed by a low one, no lone low ones. */
static int valid_utf16le(const unsigned char *p, size_t len, size_t *bad, int *ascii)
{
	*ascii = 1;
	for (size_t i = 0; i < len; i += 2) {
		unsigned u = (unsigned)p[i] | (unsigned)p[i + 1] << 8;
		if (u >= 0x80)
			*ascii = 0;
		if (u >= 0xdc00 && u <= 0xdfff) {
			*bad = i;
			return 0;
		}
		if (u >= 0xd800 && u <= 0xdbff) {
			unsigned v = i + 3 < len ? (unsigned)p[i + 2] | (unsigned)p[i + 3] << 8 : 0;
			if (v < 0xdc00 || v > 0xdfff) {
				*bad = i;
				return 0;
			}
			i += 2;
		}
	}
	return 1;
}

static int check_encoding(csod_script *s, csod_error *err)
{
	const unsigned char *p = s->p;
	if (s->len >= 2 && p[0] == 0xfe && p[1] == 0xff)
		return csod_fail(err, "UTF-16 big-endian text is not supported (save it as "
		                      "UTF-16LE or UTF-8)");
	s->enc = CSOD_TEXT_UTF8;
	s->unit = 1;
	if (s->len >= 2 && p[0] == 0xff && p[1] == 0xfe) {
		s->enc = CSOD_TEXT_UTF16LE;
		s->unit = s->bom = 2;
		if (s->len % 2)
			return csod_fail(err, "UTF-16LE text of an odd number of bytes (%zu)",
			                 s->len);
	} else if (s->len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
		s->enc = CSOD_TEXT_UTF8_BOM;
		s->bom = 3;
	}
	const unsigned char *nul = s->unit == 1 ? memchr(p, 0, s->len) : NULL;
	for (size_t i = s->bom; s->unit == 2 && !nul && i < s->len; i += 2)
		if (unit_at(s, i) == 0)
			nul = p + i;
	if (nul)
		return csod_fail(err, "binary content (a NUL at byte %zu), not a %s",
		                 (size_t)(nul - p), kinds[s->kind].name);
	size_t bad = 0;
	int ascii = 0;
	if (s->unit == 2 ? !valid_utf16le(p + 2, s->len - 2, &bad, &ascii)
	                 : !valid_utf8(p + s->bom, s->len - s->bom, &bad, &ascii))
		return csod_fail(err,
		                 "not valid %s at byte %zu: binary, or text in a legacy code "
		                 "page (save it as UTF-8 or UTF-16LE)",
		                 s->unit == 2 ? "UTF-16LE" : "UTF-8", bad + s->bom);
	if (!ascii && s->bom == 0 && kinds[s->kind].ascii_without_bom)
		return csod_fail(err,
		                 "non-ASCII text without a byte order mark, which Windows reads "
		                 "in the ANSI code page: save the %s as UTF-8 with BOM or UTF-16LE",
		                 kinds[s->kind].name);
	return 0;
}

/* Whether the units at [at, end) are exactly the ASCII string text. */
static int units_are(const csod_script *s, size_t at, size_t end, const char *text)
{
	size_t n = strlen(text);
	if ((end - at) / s->unit != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (unit_at(s, at + i * s->unit) != (unsigned char)text[i])
			return 0;
	return 1;
}

/* The line starting at `at`: its end without CR/LF in *end, the start of
 * the next line (or len) returned. */
static size_t next_line(const csod_script *s, size_t at, size_t *end)
{
	size_t i = at;
	if (s->unit == 1) {
		const unsigned char *nl = memchr(s->p + at, '\n', s->len - at);
		i = nl ? (size_t)(nl - s->p) : s->len;
	}
	while (i < s->len && unit_at(s, i) != '\n')
		i += s->unit;
	size_t next = i < s->len ? i + s->unit : s->len;
	if (i > at && unit_at(s, i - s->unit) == '\r')
		i -= s->unit;
	*end = i;
	return next;
}

static int is_base64(unsigned c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '=';
}

/* A base64 line: open, base64 characters, close. Their count in *n. */
static int base64_line(const csod_script *s, size_t at, size_t end, size_t *n)
{
	const kind_syntax *k = &kinds[s->kind];
	size_t lo = strlen(k->open) * s->unit, lc = strlen(k->close) * s->unit;
	if (end - at < lo + lc + s->unit || !units_are(s, at, at + lo, k->open) ||
	    !units_are(s, end - lc, end, k->close))
		return 0;
	for (size_t i = at + lo; i < end - lc; i += s->unit)
		if (!is_base64(unit_at(s, i)))
			return 0;
	*n = (end - lc - at - lo) / s->unit;
	return 1;
}

/* The block's lines from the header line at `at` (which starts a line
 * after a line break): base64 lines, then the footer. */
static int parse_block(csod_script *s, size_t at, size_t header_end, csod_error *err)
{
	const kind_syntax *k = &kinds[s->kind];
	size_t before = at - s->unit; /* the '\n' before the header */
	if (before >= s->bom + s->unit && unit_at(s, before - s->unit) == '\r')
		before -= s->unit;
	s->block_at = before;
	size_t end, line = next_line(s, at, &end), total = 0, n;
	(void)header_end;
	s->lines_at = line;
	for (int lines = 0;; lines++) {
		if (line >= s->len)
			return csod_fail(err, "the signature block has no end line (%s): truncated",
			                 k->footer);
		size_t next = next_line(s, line, &end);
		if (units_are(s, line, end, k->footer)) {
			if (lines == 0)
				return csod_fail(err, "the signature block is empty");
			s->lines_end = line;
			s->block_end = next;
			break;
		}
		if (!base64_line(s, line, end, &n))
			return csod_fail(err,
			                 "line %d of the signature block is not a base64 line "
			                 "of the form '%s...%s'",
			                 lines + 2, k->open, k->close);
		if ((total += n) > CSOD_SCRIPT_MAX_SIG / 3 * 4 + 4)
			return csod_fail(err, "the signature block is over %u bytes",
			                 CSOD_SCRIPT_MAX_SIG);
		line = next;
	}
	s->has_block = 1;
	return 0;
}

/* Content offset c as a file offset. */
static size_t file_at(const csod_script *s, size_t c)
{
	return s->has_block && c >= s->block_at ? c + (s->block_end - s->block_at) : c;
}

static size_t content_len(const csod_script *s)
{
	return s->has_block ? s->len - (s->block_end - s->block_at) : s->len;
}

/* The last "</job>" of a WSF's content, where its signature goes. */
static int find_last_job_end(csod_script *s, csod_error *err)
{
	static const char tag[] = "</job>";
	size_t n = strlen(tag), clen = content_len(s);
	for (size_t c = clen; c >= s->bom + n * s->unit; c -= s->unit) {
		size_t at = c - n * s->unit, i = 0;
		while (i < n && unit_at(s, file_at(s, at + i * s->unit)) == (unsigned char)tag[i])
			i++;
		if (i == n) {
			s->insert_at = at;
			return 0;
		}
	}
	return csod_fail(err, "no </job> to put the signature before");
}

int csod_script_parse(csod_script *s, csod_script_kind kind, const unsigned char *p, size_t len,
                      csod_error *err)
{
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->p = p;
	s->len = len;
	if (len == 0)
		return csod_fail(err, "empty file");
	if (len > CSOD_SCRIPT_MAX)
		return csod_fail(err, "%zu bytes: scripts over %u MiB are not signed", len,
		                 CSOD_SCRIPT_MAX >> 20);
	if (check_encoding(s, err) < 0)
		return -1;
	const kind_syntax *k = &kinds[kind];
	for (size_t line = s->bom, end; line < len;) {
		size_t next = next_line(s, line, &end);
		if (units_are(s, line, end, k->header)) {
			if (s->has_block)
				return csod_fail(err, "two signature blocks");
			if (line == s->bom)
				return csod_fail(err, "a signature block at the start of the file");
			if (parse_block(s, line, end, err) < 0)
				return -1;
			next = s->block_end;
		} else if (s->has_block && units_are(s, line, end, k->footer)) {
			return csod_fail(err, "a second end of the signature block");
		}
		line = next;
	}
	if (kind != CSOD_SCRIPT_WSF) {
		if (s->has_block && s->block_end != len)
			return csod_fail(err, "text follows the signature block");
		s->insert_at = content_len(s);
		return 0;
	}
	if (find_last_job_end(s, err) < 0)
		return -1;
	if (s->has_block && s->block_at != s->insert_at)
		return csod_fail(err, "the signature block is not right before the last </job>");
	return 0;
}

int csod_script_signature(const csod_script *s, unsigned char **der, size_t *der_len,
                          csod_error *err)
{
	*der = NULL;
	if (!s->has_block)
		return csod_fail(err, "the %s is not signed", kinds[s->kind].name);
	size_t cap = (s->lines_end - s->lines_at) / s->unit, n = 0, end, len;
	char *b64 = malloc(cap + 1);
	unsigned char *out = malloc(cap / 4 * 3 + 3);
	if (!b64 || !out) {
		free(b64);
		free(out);
		return csod_fail(err, "out of memory");
	}
	size_t lo = strlen(kinds[s->kind].open) * s->unit;
	for (size_t line = s->lines_at; line < s->lines_end;) {
		size_t next = next_line(s, line, &end);
		base64_line(s, line, end, &len);
		for (size_t i = 0; i < len; i++)
			b64[n++] = (char)unit_at(s, line + lo + i * s->unit);
		line = next;
	}
	size_t pad = 0;
	while (pad < n && pad < 2 && b64[n - 1 - pad] == '=')
		pad++;
	int got = n % 4 == 0 && !memchr(b64, '=', n - pad)
	              ? EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n)
	              : -1;
	free(b64);
	if (got < 0 || (size_t)got < pad) {
		free(out);
		return csod_fail(err, "the signature block is not valid base64");
	}
	*der = out;
	*der_len = (size_t)got - pad;
	return 0;
}

/* Feeds content [a, b) to md as UTF-16LE; counts its code units. */
/* Content [a, b) as runs of the file's bytes: at most two, either side
 * of the block. Returns their number. */
typedef struct run {
	const unsigned char *p;
	size_t len;
} run;

static int content_runs(const csod_script *s, size_t a, size_t b, run r[2])
{
	size_t skip = s->has_block ? s->block_end - s->block_at : 0;
	int n = 0;
	if (a < b && (!s->has_block || a < s->block_at)) {
		size_t end = s->has_block && b > s->block_at ? s->block_at : b;
		r[n++] = (run){s->p + a, end - a};
		a = end;
	}
	if (a < b)
		r[n++] = (run){s->p + a + skip, b - a};
	return n;
}

/* Feeds UTF-8 text to md as UTF-16LE; counts its code units. */
static int hash_utf8(EVP_MD_CTX *md, const unsigned char *p, size_t len, uint32_t *units)
{
	unsigned char buf[4096];
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp = p[i];
		size_t used = cp < 0x80 ? 1 : cp < 0xe0 ? 2 : cp < 0xf0 ? 3 : 4;
		if (used > 1) { /* valid: checked when parsed */
			cp &= 0x7fu >> used;
			for (size_t k = 1; k < used; k++)
				cp = cp << 6 | (p[i + k] & 0x3fu);
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			uint32_t hi = 0xd800 | cp >> 10;
			buf[n++] = (unsigned char)hi;
			buf[n++] = (unsigned char)(hi >> 8);
			cp = 0xdc00 | (cp & 0x3ff);
			(*units)++;
		}
		buf[n++] = (unsigned char)cp;
		buf[n++] = (unsigned char)(cp >> 8);
		(*units)++;
		i += used;
		if (n >= sizeof buf - 4) {
			if (!EVP_DigestUpdate(md, buf, n))
				return -1;
			n = 0;
		}
	}
	return EVP_DigestUpdate(md, buf, n) ? 0 : -1;
}

/* Feeds content [a, b) to md as UTF-16LE; counts its code units. */
static int hash_range(const csod_script *s, EVP_MD_CTX *md, size_t a, size_t b, uint32_t *units)
{
	run r[2];
	int n = content_runs(s, a, b, r);
	for (int i = 0; i < n; i++) {
		if (s->unit == 1 ? hash_utf8(md, r[i].p, r[i].len, units) < 0
		                 : !EVP_DigestUpdate(md, r[i].p, r[i].len))
			return -1;
		if (s->unit == 2)
			*units += (uint32_t)(r[i].len / 2);
	}
	return 0;
}

int csod_script_hash(const csod_script *s, const EVP_MD *md, unsigned char *out, unsigned *out_len,
                     csod_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint32_t units = 0, before = 0;
	size_t clen = content_len(s);
	int ok = ctx && EVP_DigestInit_ex(ctx, md, NULL);
	if (ok && !kinds[s->kind].wsh) {
		ok = hash_range(s, ctx, 0, clen, &units) == 0;
	} else if (ok) {
		/* The text without BOM, then the block's place in UTF-16 units. */
		ok = hash_range(s, ctx, s->bom, s->insert_at, &before) == 0 &&
		     hash_range(s, ctx, s->insert_at, clen, &units) == 0;
		unsigned char pos[4] = {(unsigned char)before, (unsigned char)(before >> 8),
		                        (unsigned char)(before >> 16),
		                        (unsigned char)(before >> 24)};
		ok = ok && EVP_DigestUpdate(ctx, pos, sizeof pos);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, out, out_len);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : csod_fail_ssl(err, "cannot hash the script");
}

/* Appends ASCII text to out in the file's encoding. */
static void put_text(const csod_script *s, unsigned char *out, size_t *n, const char *text,
                     size_t len)
{
	for (size_t i = 0; i < len; i++) {
		out[(*n)++] = (unsigned char)text[i];
		if (s->unit == 2)
			out[(*n)++] = 0;
	}
}

static void put_line(const csod_script *s, unsigned char *out, size_t *n, const char *open,
                     const char *text, size_t len, const char *close)
{
	put_text(s, out, n, open, strlen(open));
	put_text(s, out, n, text, len);
	put_text(s, out, n, close, strlen(close));
	put_text(s, out, n, "\r\n", 2);
}

int csod_script_block(const csod_script *s, const unsigned char *der, size_t der_len,
                      unsigned char **out, size_t *out_len, csod_error *err)
{
	const kind_syntax *k = &kinds[s->kind];
	if (der_len > CSOD_SCRIPT_MAX_SIG)
		return csod_fail(err, "the signature (%zu bytes) is too large", der_len);
	size_t b64_len = (der_len + 2) / 3 * 4, lines = (b64_len + 63) / 64;
	size_t block = 2 + strlen(k->header) + 2 + strlen(k->footer) + 2 + b64_len +
	               lines * (strlen(k->open) + strlen(k->close) + 2);
	char *b64 = malloc(b64_len + 1);
	unsigned char *p = malloc(block * s->unit);
	if (!b64 || !p) {
		free(b64);
		free(p);
		return csod_fail(err, "out of memory");
	}
	EVP_EncodeBlock((unsigned char *)b64, der, (int)der_len);
	size_t n = 0;
	put_text(s, p, &n, "\r\n", 2);
	put_line(s, p, &n, "", k->header, strlen(k->header), "");
	for (size_t i = 0; i < b64_len; i += 64)
		put_line(s, p, &n, k->open, b64 + i, b64_len - i < 64 ? b64_len - i : 64, k->close);
	put_line(s, p, &n, "", k->footer, strlen(k->footer), "");
	free(b64);
	*out = p;
	*out_len = n;
	return 0;
}

void csod_script_around_block(const csod_script *s, size_t *head_end, size_t *tail_at)
{
	/* The parser holds an existing block to where a new one goes. */
	*head_end = s->has_block ? s->block_at : s->insert_at;
	*tail_at = s->has_block ? s->block_end : s->insert_at;
}

int csod_script_same_content(const csod_script *a, const csod_script *b)
{
	size_t len = content_len(a);
	if (a->kind != b->kind || a->enc != b->enc || len != content_len(b) ||
	    a->insert_at != b->insert_at)
		return 0;
	/* Compared in pieces where the runs of either side end. */
	for (size_t c = 0; c < len;) {
		run ra[2], rb[2];
		content_runs(a, c, len, ra);
		content_runs(b, c, len, rb);
		size_t n = ra[0].len < rb[0].len ? ra[0].len : rb[0].len;
		if (memcmp(ra[0].p, rb[0].p, n) != 0)
			return 0;
		c += n;
	}
	return 1;
}
