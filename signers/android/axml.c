/* <uses-sdk> from Android's binary XML (the compiled AndroidManifest.xml).
 *
 * The format (Android's ResourceTypes.h): a file chunk of type XML holding
 * a sequence of chunks, each with a type, a header size and a total size:
 * a string pool (UTF-8 or UTF-16 strings, by index), a resource map (the
 * resource id of each attribute name, by the name's string index), then
 * the nodes: namespace starts and ends, element starts (with their
 * attributes) and ends, text. An attribute is recognized by its resource
 * id, not its name, as the platform and apksigner recognize it: a
 * "minSdkVersion" without the id is not one Android reads.
 *
 * Every offset and size read from the input is checked against the bounds
 * of the chunk it lies in before anything is read through it; strings are
 * decoded only when needed (element names at depth 2, codenames) and each
 * must lie, terminator included, inside its pool. Chunk sizes must be
 * multiples of 4, as Android requires. Nothing recurses: the depth is a
 * counter. */
#include "axml.h"

#include <stdint.h>
#include <string.h>

#include "../java/zip_read.h" /* csod_le16, csod_le32 */

#define CHUNK_STRING_POOL   0x0001
#define CHUNK_XML           0x0003
#define CHUNK_XML_FIRST     0x0100 /* node chunks: namespaces, elements, text */
#define CHUNK_START_ELEMENT 0x0102
#define CHUNK_END_ELEMENT   0x0103
#define CHUNK_XML_LAST      0x017f
#define CHUNK_RESOURCE_MAP  0x0180

#define POOL_HEADER     28
#define POOL_UTF8       0x100
#define NODE_HEADER     16
#define ELEMENT_EXT     20 /* ns, name, attribute start/size/count, 3 indexes */
#define ATTRIBUTE_BYTES 20 /* ns, name, raw value, Res_value (size, 0, type, data) */
#define NO_STRING       0xffffffffu

#define TYPE_STRING  0x03
#define TYPE_INT_DEC 0x10
#define TYPE_INT_HEX 0x11

#define ATTR_MIN_SDK    0x0101020cu
#define ATTR_TARGET_SDK 0x01010270u
#define ATTR_MAX_SDK    0x01010271u

typedef struct string_pool {
	const unsigned char *chunk; /* NULL: none seen */
	size_t offsets;             /* where the offset table starts, in chunk */
	uint32_t count;
	size_t strings, strings_end; /* the string data, in chunk */
	int utf8;
} string_pool;

typedef struct parser {
	string_pool pool;
	const unsigned char *ids; /* resource map: one u32 per string index */
	size_t n_ids;
	size_t depth;
	int target_given;
	csod_axml_sdk *out;
	csod_error *err;
} parser;

static int pool_open(string_pool *sp, const unsigned char *c, size_t hsz, size_t size,
                     csod_error *err)
{
	if (hsz < POOL_HEADER)
		return csod_fail(err, "string pool header too short (%zu bytes)", hsz);
	uint32_t count = csod_le32(c + 8), styles = csod_le32(c + 12);
	uint32_t flags = csod_le32(c + 16), start = csod_le32(c + 20);
	uint32_t styles_start = csod_le32(c + 24);
	if (((uint64_t)count + styles) * 4 > size - hsz)
		return csod_fail(err, "string pool offsets run past the pool");
	if (count > 0 && (start < hsz || start >= size))
		return csod_fail(err, "string pool data lies outside the pool");
	sp->chunk = c;
	sp->offsets = hsz;
	sp->count = count;
	sp->strings = start;
	sp->strings_end =
	    styles > 0 && styles_start > start && styles_start <= size ? styles_start : size;
	sp->utf8 = (flags & POOL_UTF8) != 0;
	return 0;
}

/* A length prefix: one unit, or two when the first has its top bit set. */
static int length_prefix(const unsigned char *s, size_t room, int utf8, size_t *len, size_t *used)
{
	size_t unit = utf8 ? 1 : 2, top = utf8 ? 0x80 : 0x8000;
	if (room < unit)
		return -1;
	size_t v = utf8 ? s[0] : csod_le16(s);
	*used = unit;
	if (v & top) {
		if (room < 2 * unit)
			return -1;
		size_t low = utf8 ? s[1] : csod_le16(s + 2);
		v = (v & (top - 1)) << (8 * unit) | low;
		*used = 2 * unit;
	}
	*len = v;
	return 0;
}

/* String idx of the pool, its printable ASCII (others as '?') copied into
 * buf (cut to cap - 1 characters), its full length in *n. */
static int pool_string(const string_pool *sp, uint32_t idx, char *buf, size_t cap, size_t *n,
                       csod_error *err)
{
	if (!sp->chunk)
		return csod_fail(err, "an element comes before the string pool");
	if (idx >= sp->count)
		return csod_fail(err, "string index %u out of range (the pool has %u)", idx,
		                 sp->count);
	uint64_t at = (uint64_t)sp->strings + csod_le32(sp->chunk + sp->offsets + 4 * (size_t)idx);
	if (at >= sp->strings_end)
		return csod_fail(err, "string %u lies outside its pool", idx);
	const unsigned char *s = sp->chunk + at;
	size_t room = sp->strings_end - (size_t)at, len, used, skip = 0;
	/* UTF-8 strings carry their UTF-16 length first, then their own. */
	if (sp->utf8 && length_prefix(s, room, 1, &len, &skip) < 0)
		return csod_fail(err, "string %u runs past its pool", idx);
	if (length_prefix(s + skip, room - skip, sp->utf8, &len, &used) < 0)
		return csod_fail(err, "string %u runs past its pool", idx);
	size_t unit = sp->utf8 ? 1 : 2, head = skip + used;
	if ((room - head) / unit <= len)
		return csod_fail(err, "string %u runs past its pool", idx);
	const unsigned char *text = s + head;
	if ((sp->utf8 ? text[len] : csod_le16(text + 2 * len)) != 0)
		return csod_fail(err, "string %u is not NUL-terminated", idx);
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < cap; i++) {
		unsigned c = sp->utf8 ? text[i] : csod_le16(text + 2 * i);
		buf[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	buf[o] = '\0';
	*n = len;
	return 0;
}

int csod_axml_codename_sdk(const char *codename)
{
	/* apksigner's table (Debian's apksig 31): the API level a platform
	 * had while it was known only by this letter. A letter between two
	 * counts one above the earlier; newer apksig versions add later
	 * letters, all mapping above 24 as here, so that the schemes chosen
	 * from them stay the same. */
	static const struct {
		char letter;
		int sdk;
	} known[] = {{'C', 2},  {'D', 3},  {'E', 4},  {'F', 7},  {'G', 8},  {'H', 10}, {'I', 13},
	             {'J', 15}, {'K', 18}, {'L', 20}, {'M', 22}, {'N', 23}, {'O', 25}};
	char c = codename[0];
	if (c < 'A' || c > 'Z')
		return -1;
	int sdk = 1; /* A and B were never released */
	for (size_t i = 0; i < sizeof known / sizeof known[0] && known[i].letter <= c; i++)
		sdk = known[i].letter == c ? known[i].sdk : known[i].sdk + 1;
	return sdk;
}

/* One of the three version attributes: an integer, or (not for
 * maxSdkVersion) a codename string. */
static int version_value(const parser *p, const unsigned char *a, const char *what, int codename_ok,
                         int *out)
{
	unsigned type = a[15];
	uint32_t data = csod_le32(a + 16);
	if (type == TYPE_INT_DEC || type == TYPE_INT_HEX) {
		*out = data <= INT32_MAX ? (int)data : -(int)(~data) - 1;
		return 0;
	}
	if (type != TYPE_STRING || !codename_ok)
		return csod_fail(p->err, "android:%s has a value of type 0x%02x, not an integer%s",
		                 what, type, codename_ok ? " or a platform codename" : "");
	char name[48];
	size_t n;
	if (pool_string(&p->pool, data, name, sizeof name, &n, p->err) < 0)
		return -1;
	*out = csod_axml_codename_sdk(name);
	if (*out < 0)
		return csod_fail(p->err, "android:%s \"%s\" is neither an integer nor a codename",
		                 what, name);
	return 0;
}

static int max_of(int a, int b)
{
	return a > b ? a : b;
}

/* The attributes of one <uses-sdk> (ext: the element's extension, room
 * bytes to the end of its chunk). */
static int read_uses_sdk(parser *p, const unsigned char *ext, size_t room)
{
	size_t start = csod_le16(ext + 8), size = csod_le16(ext + 10), count = csod_le16(ext + 12);
	if (size < ATTRIBUTE_BYTES)
		return csod_fail(p->err, "<uses-sdk> attributes of %zu bytes (Android's are 20)",
		                 size);
	if (start > room || count > (room - start) / size)
		return csod_fail(p->err, "<uses-sdk> attributes run past the element");
	int min = 1, v;
	for (size_t i = 0; i < count; i++) {
		const unsigned char *a = ext + start + i * size;
		uint32_t name = csod_le32(a + 4);
		uint32_t id = name < p->n_ids ? csod_le32(p->ids + 4 * (size_t)name) : 0;
		if (id == ATTR_MIN_SDK) {
			if (version_value(p, a, "minSdkVersion", 1, &min) < 0)
				return -1;
		} else if (id == ATTR_TARGET_SDK) {
			if (version_value(p, a, "targetSdkVersion", 1, &v) < 0)
				return -1;
			p->out->target_sdk = p->target_given ? max_of(p->out->target_sdk, v) : v;
			p->target_given = 1;
		} else if (id == ATTR_MAX_SDK) {
			if (version_value(p, a, "maxSdkVersion", 0, &v) < 0)
				return -1;
			p->out->max_sdk = max_of(p->out->max_sdk, v);
		}
	}
	p->out->min_sdk = max_of(p->out->min_sdk, min);
	p->out->uses_sdk++;
	return 0;
}

/* An element start at depth 2 (a child of <manifest>): <uses-sdk>, with no
 * namespace, is read. */
static int start_element(parser *p, const unsigned char *ext, size_t room)
{
	if (room < ELEMENT_EXT)
		return csod_fail(p->err, "an element is cut short");
	uint32_t ns = csod_le32(ext), name = csod_le32(ext + 4);
	char buf[16];
	size_t n;
	if (ns != NO_STRING) {
		if (pool_string(&p->pool, ns, buf, sizeof buf, &n, p->err) < 0)
			return -1;
		if (n > 0)
			return 0;
	}
	if (pool_string(&p->pool, name, buf, sizeof buf, &n, p->err) < 0)
		return -1;
	if (n != strlen("uses-sdk") || strcmp(buf, "uses-sdk") != 0)
		return 0;
	return read_uses_sdk(p, ext, room);
}

static int node(parser *p, unsigned type, const unsigned char *c, size_t hsz, size_t size,
                size_t at)
{
	if (hsz < NODE_HEADER)
		return csod_fail(p->err, "XML node header too short at offset %zu", at);
	if (type == CHUNK_START_ELEMENT && ++p->depth == 2)
		return start_element(p, c + hsz, size - hsz);
	if (type == CHUNK_END_ELEMENT && p->depth-- == 0)
		return csod_fail(p->err, "an element ends that never started (offset %zu)", at);
	return 0;
}

int csod_axml_read_sdk(const unsigned char *data, size_t len, csod_axml_sdk *out, csod_error *err)
{
	memset(out, 0, sizeof *out);
	out->min_sdk = 1;
	if (len < 8 || csod_le16(data) != CHUNK_XML)
		return csod_fail(err, "not Android binary XML%s",
		                 len > 0 && (data[0] == '<' || data[0] == 0xef)
		                     ? " (a text XML file: Android reads only the compiled form)"
		                     : "");
	size_t hsz = csod_le16(data + 2), size = csod_le32(data + 4);
	if (hsz < 8 || hsz > size || ((hsz | size) & 3))
		return csod_fail(err, "not Android binary XML (bad file header)");
	if (size > len)
		return csod_fail(err, "binary XML cut short (%zu of %zu bytes)", len, size);
	parser p = {.out = out, .err = err};
	int nodes = 0;
	for (size_t pos = hsz; pos < size;) {
		if (size - pos < 8)
			return csod_fail(err, "binary XML chunk header cut short at offset %zu",
			                 pos);
		const unsigned char *c = data + pos;
		unsigned type = csod_le16(c);
		size_t chsz = csod_le16(c + 2), csize = csod_le32(c + 4);
		if (chsz < 8 || csize < chsz || csize > size - pos || ((chsz | csize) & 3))
			return csod_fail(err, "bad binary XML chunk (type 0x%04x) at offset %zu",
			                 type, pos);
		int rc = 0;
		/* As Android does: the pool and map are those before the first node. */
		if (type == CHUNK_STRING_POOL && !nodes) {
			rc = pool_open(&p.pool, c, chsz, csize, err);
		} else if (type == CHUNK_RESOURCE_MAP && !nodes) {
			p.ids = c + chsz;
			p.n_ids = (csize - chsz) / 4;
		} else if (type >= CHUNK_XML_FIRST && type <= CHUNK_XML_LAST) {
			nodes = 1;
			rc = node(&p, type, c, chsz, csize, pos);
		}
		if (rc < 0)
			return -1;
		pos += csize;
	}
	if (!nodes)
		return csod_fail(err, "binary XML without any element");
	if (!p.target_given)
		out->target_sdk = out->min_sdk;
	return 0;
}
