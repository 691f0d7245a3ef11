/* MSIX/APPX XML scans; see appx_xml.h. */
#include "appx_xml.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/objects.h>

#define SIGNATURE_OVERRIDE                                                                         \
	"<Override PartName=\"/AppxSignature.p7x\" "                                               \
	"ContentType=\"application/vnd.ms-appx.signature\"/>"

static const char *find(const char *p, const char *end, const char *what)
{
	size_t n = strlen(what);
	for (; p && (size_t)(end - p) >= n; p++)
		if (memcmp(p, what, n) == 0)
			return p;
	return NULL;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Past markup that is no element (comments, CDATA, declarations,
 * processing instructions) starting at p ('<'), or NULL if unterminated;
 * p itself when it opens an element. */
static const char *skip_non_element(const char *p, const char *end)
{
	static const struct {
		const char *open, *close;
	} kinds[] = {{"<!--", "-->"}, {"<![CDATA[", "]]>"}, {"<?", "?>"}, {"<!", ">"}};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		size_t n = strlen(kinds[i].open);
		if ((size_t)(end - p) >= n && memcmp(p, kinds[i].open, n) == 0) {
			const char *c = find(p + n, end, kinds[i].close);
			return c ? c + strlen(kinds[i].close) : NULL;
		}
	}
	return p;
}

/* Undoes XML's escapes in [p, end) into out (UTF-8). */
static int unescape(const char *p, const char *end, char *out, size_t cap, csod_error *err)
{
	size_t o = 0;
	while (p < end) {
		unsigned long c = (unsigned char)*p++;
		if (c == '&') {
			const char *semi = memchr(p, ';', (size_t)(end - p));
			if (!semi || semi - p > 10)
				return csod_fail(err, "a stray '&' in an attribute");
			size_t n = (size_t)(semi - p);
			static const struct {
				const char *name;
				char c;
			} named[] = {
			    {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
			int known = 0;
			for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
				if (strlen(named[i].name) == n && memcmp(p, named[i].name, n) == 0)
					c = (unsigned char)named[i].c, known = 1;
			if (!known && n >= 2 && p[0] == '#') {
				int hex = p[1] == 'x';
				c = 0;
				for (const char *d = p + 1 + hex; d < semi; d++) {
					int v = isdigit((unsigned char)*d) ? *d - '0'
					        : hex && isxdigit((unsigned char)*d)
					            ? (tolower(*d) - 'a' + 10)
					            : -1;
					if (v < 0 || c > 0x10ffff)
						return csod_fail(err, "a bad character reference");
					c = c * (hex ? 16 : 10) + (unsigned long)v;
				}
				known = c > 0 && c <= 0x10ffff && (c < 0xd800 || c > 0xdfff);
			}
			if (!known)
				return csod_fail(err, "an unknown entity '&%.*s;'", (int)n, p);
			p = semi + 1;
		}
		unsigned char u[4];
		size_t k;
		if (c < 0x80)
			u[0] = (unsigned char)c, k = 1;
		else if (c < 0x800)
			u[0] = (unsigned char)(0xc0 | c >> 6),
			u[1] = (unsigned char)(0x80 | (c & 0x3f)), k = 2;
		else if (c < 0x10000)
			u[0] = (unsigned char)(0xe0 | c >> 12),
			u[1] = (unsigned char)(0x80 | (c >> 6 & 0x3f)),
			u[2] = (unsigned char)(0x80 | (c & 0x3f)), k = 3;
		else
			u[0] = (unsigned char)(0xf0 | c >> 18),
			u[1] = (unsigned char)(0x80 | (c >> 12 & 0x3f)),
			u[2] = (unsigned char)(0x80 | (c >> 6 & 0x3f)),
			u[3] = (unsigned char)(0x80 | (c & 0x3f)), k = 4;
		if (o + k >= cap)
			return csod_fail(err, "the attribute is over %zu bytes", cap - 1);
		memcpy(out + o, u, k);
		o += k;
	}
	out[o] = 0;
	return 0;
}

int csod_xml_next(csod_xml_cursor *c, const char **local, size_t *len, csod_error *err)
{
	const char *p = c->p, *end = c->end;
	while ((p = memchr(p, '<', (size_t)(end - p)))) {
		const char *after = skip_non_element(p, end);
		if (!after)
			return csod_fail(err, "unterminated markup");
		if (after != p) {
			p = after;
			continue;
		}
		const char *name = ++p;
		while (p < end && !is_space(*p) && *p != '>' && *p != '/')
			p++;
		if (p == name) /* an end tag, or '<' last */
			continue;
		const char *colon = memchr(name, ':', (size_t)(p - name));
		*local = colon ? colon + 1 : name;
		*len = (size_t)(p - *local);
		c->p = p;
		return 1;
	}
	c->p = end;
	return 0;
}

int csod_xml_attr(const csod_xml_cursor *c, const char *attr, char *out, size_t cap,
                  csod_error *err)
{
	const char *p = c->p, *end = c->end;
	size_t attr_len = strlen(attr);
	for (;;) {
		while (p < end && is_space(*p))
			p++;
		if (p >= end || *p == '>' || *p == '/')
			return 1;
		const char *an = p;
		while (p < end && !is_space(*p) && *p != '=' && *p != '>')
			p++;
		size_t an_len = (size_t)(p - an);
		while (p < end && is_space(*p))
			p++;
		if (p + 1 >= end || *p != '=')
			return csod_fail(err, "a malformed attribute");
		p++;
		while (p < end && is_space(*p))
			p++;
		if (p >= end || (*p != '"' && *p != '\''))
			return csod_fail(err, "an unquoted attribute");
		const char *v = p + 1, *q = memchr(v, *p, (size_t)(end - v));
		if (!q || memchr(v, '<', (size_t)(q - v)))
			return csod_fail(err, "an unterminated attribute");
		p = q + 1;
		if (an_len == attr_len && memcmp(an, attr, an_len) == 0)
			return unescape(v, q, out, cap, err);
	}
}

/* The attribute attr of the first element whose local name is element,
 * unescaped into out. */
static int find_attribute(const char *xml, size_t len, const char *element, const char *attr,
                          char *out, size_t cap, csod_error *err)
{
	csod_xml_cursor c = {xml, xml + len};
	const char *local;
	size_t n;
	int rc;
	while ((rc = csod_xml_next(&c, &local, &n, err)) == 1) {
		if (n != strlen(element) || memcmp(local, element, n) != 0)
			continue;
		csod_error why;
		rc = csod_xml_attr(&c, attr, out, cap, &why);
		if (rc == 1)
			return csod_fail(err, "<%s> has no %s attribute", element, attr);
		return rc < 0 ? csod_fail(err, "%s in <%s>", why.msg, element) : 0;
	}
	return rc < 0 ? -1 : csod_fail(err, "no <%s> element", element);
}

int csod_appx_publisher(const char *xml, size_t len, char *out, size_t cap, csod_error *err)
{
	csod_error why;
	if (find_attribute(xml, len, "Identity", "Publisher", out, cap, &why) < 0)
		return csod_fail(err, "%s", why.msg);
	if (!out[0])
		return csod_fail(err, "the Identity's Publisher is empty");
	return 0;
}

const EVP_MD *csod_appx_hash_method(const char *xml, size_t len, csod_error *err)
{
	static const struct {
		const char *uri, *md;
	} methods[] = {{"http://www.w3.org/2001/04/xmlenc#sha256", "sha256"},
	               {"http://www.w3.org/2001/04/xmldsig-more#sha384", "sha384"},
	               {"http://www.w3.org/2001/04/xmlenc#sha512", "sha512"}};
	char uri[256];
	csod_error why;
	if (find_attribute(xml, len, "BlockMap", "HashMethod", uri, sizeof uri, &why) < 0)
		return csod_fail(err, "AppxBlockMap.xml: %s", why.msg), NULL;
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(uri, methods[i].uri) == 0)
			return EVP_get_digestbyname(methods[i].md);
	return csod_fail(err, "AppxBlockMap.xml: unknown HashMethod '%.200s'", uri), NULL;
}

/* Appends KEY=value, the value quoted when it needs to be. */
static int emit(char *out, size_t cap, size_t *o, const char *sep, const char *key,
                const char *value, size_t vlen)
{
	int quote = vlen == 0 || value[0] == ' ' || value[vlen - 1] == ' ';
	for (size_t i = 0; i < vlen; i++)
		if (strchr(",+=\"\\<>#;\n\r", value[i]))
			quote = 1;
	int n = snprintf(out + *o, cap - *o, "%s%s=%s", sep, key, quote ? "\"" : "");
	if (n < 0 || (size_t)n >= cap - *o)
		return -1;
	*o += (size_t)n;
	for (size_t i = 0; i < vlen; i++) {
		size_t k = quote && value[i] == '"' ? 2 : 1;
		if (*o + k + 2 >= cap)
			return -1;
		out[(*o)++] = value[i];
		if (k == 2)
			out[(*o)++] = '"';
	}
	if (*o + (quote ? 1 : 0) >= cap) /* the closing quote and the NUL */
		return -1;
	if (quote)
		out[(*o)++] = '"';
	out[*o] = 0;
	return 0;
}

static const struct {
	int nid;
	const char *key;
} keys[] = {{NID_commonName, "CN"},
            {NID_organizationName, "O"},
            {NID_organizationalUnitName, "OU"},
            {NID_localityName, "L"},
            {NID_stateOrProvinceName, "S"},
            {NID_countryName, "C"},
            {NID_pkcs9_emailAddress, "E"},
            {NID_streetAddress, "STREET"},
            {NID_domainComponent, "DC"},
            {NID_serialNumber, "SERIALNUMBER"},
            {NID_title, "T"},
            {NID_givenName, "G"},
            {NID_surname, "SN"},
            {NID_initials, "I"},
            {NID_postalCode, "PostalCode"}};

int csod_appx_subject_text(const X509_NAME *name, char *out, size_t cap)
{
	size_t o = 0;
	int last_set = -1;
	out[0] = 0;
	for (int i = X509_NAME_entry_count(name) - 1; i >= 0; i--) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		char key[96] = "";
		for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
			if (keys[k].nid == nid)
				snprintf(key, sizeof key, "%s", keys[k].key);
		if (!key[0]) {
			memcpy(key, "OID.", 4);
			OBJ_obj2txt(key + 4, (int)sizeof key - 4, X509_NAME_ENTRY_get_object(e), 1);
		}
		unsigned char *utf8 = NULL;
		int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
		int set = X509_NAME_ENTRY_set(e);
		const char *sep = o == 0 ? "" : set == last_set ? " + " : ", ";
		int rc = n < 0 ? -1 : emit(out, cap, &o, sep, key, (const char *)utf8, (size_t)n);
		OPENSSL_free(utf8);
		if (rc < 0)
			return -1;
		last_set = set;
	}
	return 0;
}

/* The publisher's KEY in the form csod_appx_subject_text writes it. */
static void canonical_key(const char *k, size_t n, char *out, size_t cap)
{
	static const struct {
		const char *alias, *key;
	} aliases[] = {
	    {"ST", "S"}, {"EMAIL", "E"}, {"EMAILADDRESS", "E"}, {"POSTALCODE", "PostalCode"}};
	snprintf(out, cap, "%.*s", (int)n, k);
	if (strncasecmp(out, "OID.", 4) == 0) {
		memcpy(out, "OID.", 4);
		return;
	}
	for (char *c = out; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strcmp(out, aliases[i].alias) == 0)
			snprintf(out, cap, "%s", aliases[i].key);
}

int csod_appx_publisher_canonical(const char *pub, char *out, size_t cap, csod_error *err)
{
	char value[CSOD_APPX_NAME_MAX], key[96];
	size_t o = 0;
	const char *sep = "";
	out[0] = 0;
	const char *p = pub;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *k = p;
		while (*p && *p != '=' && *p != ',' && *p != '+')
			p++;
		size_t klen = (size_t)(p - k);
		while (klen && k[klen - 1] == ' ')
			klen--;
		if (*p != '=' || klen == 0 || klen >= sizeof key)
			return csod_fail(err, "the publisher '%.200s' is not a distinguished name",
			                 pub);
		canonical_key(k, klen, key, sizeof key);
		p++;
		while (*p == ' ')
			p++;
		size_t v = 0;
		if (*p == '"') {
			for (p++;; p++) {
				if (!*p)
					return csod_fail(err, "an unterminated quote in '%.200s'",
					                 pub);
				if (*p == '"' && p[1] != '"')
					break;
				if (*p == '"')
					p++;
				if (v + 1 >= sizeof value)
					return csod_fail(err, "the publisher is too long");
				value[v++] = *p;
			}
			p++;
			while (*p == ' ')
				p++;
		} else {
			size_t keep = 0; /* trailing spaces are not the value's */
			for (; *p && *p != ',' && *p != '+' && *p != ';'; p++) {
				if (*p == '\\' && p[1])
					p++, keep = v + 1;
				if (v + 1 >= sizeof value)
					return csod_fail(err, "the publisher is too long");
				value[v++] = *p;
				if (*p != ' ')
					keep = v;
			}
			v = keep;
		}
		if (*p && *p != ',' && *p != '+' && *p != ';')
			return csod_fail(err, "the publisher '%.200s' is not a distinguished name",
			                 pub);
		if (emit(out, cap, &o, sep, key, value, v) < 0)
			return csod_fail(err, "the publisher is too long");
		sep = *p == '+' ? " + " : ", ";
		if (*p)
			p++;
	}
	return o ? 0 : csod_fail(err, "the publisher is empty");
}

int csod_appx_content_types_signed(const char *xml, size_t len, unsigned char **out, size_t *outlen,
                                   csod_error *err)
{
	const char *end = xml + len;
	const char *close = NULL;
	for (const char *p = xml; (p = find(p, end, "</Types>")); p++)
		close = p;
	if (!close)
		return csod_fail(err, "[Content_Types].xml has no </Types>");
	int has = find(xml, end, "PartName=\"/AppxSignature.p7x\"") != NULL;
	size_t add = has ? 0 : strlen(SIGNATURE_OVERRIDE), at = (size_t)(close - xml);
	if (!(*out = malloc(len + add + 1)))
		return csod_fail(err, "out of memory");
	memcpy(*out, xml, at);
	memcpy(*out + at, SIGNATURE_OVERRIDE, add);
	memcpy(*out + at + add, xml + at, len - at);
	(*out)[len + add] = 0;
	*outlen = len + add;
	return 0;
}
