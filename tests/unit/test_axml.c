/* Unit tests for the binary AndroidManifest.xml reader (axml.h): documents
 * built here chunk by chunk as aapt lays them out (UTF-8 and UTF-16 string
 * pools, resource map, nested elements), then broken in the ways a hostile
 * APK could break them. Under ASan every refused input also proves that
 * nothing was read out of bounds. The integration test 33 reads real
 * manifests compiled by aapt. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../signers/android/axml.h"

typedef struct doc {
	unsigned char b[4096];
	size_t n;
} doc;

static void put16(doc *d, unsigned v)
{
	d->b[d->n++] = (unsigned char)v;
	d->b[d->n++] = (unsigned char)(v >> 8);
}

static void put32(doc *d, uint32_t v)
{
	put16(d, v & 0xffff);
	put16(d, v >> 16);
}

static void set32(doc *d, size_t at, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		d->b[at + (size_t)i] = (unsigned char)(v >> (8 * i));
}

static size_t begin_chunk(doc *d, unsigned type, unsigned header)
{
	size_t at = d->n;
	put16(d, type);
	put16(d, header);
	put32(d, 0);
	return at;
}

static void end_chunk(doc *d, size_t at)
{
	while (d->n % 4)
		d->b[d->n++] = 0;
	set32(d, at + 4, (uint32_t)(d->n - at));
}

enum { S_MIN, S_TARGET, S_MAX, S_URI, S_MANIFEST, S_USES_SDK, S_APP, S_P, S_N, S_COUNT };
static const char *const strings[S_COUNT] = {"minSdkVersion",
                                             "targetSdkVersion",
                                             "maxSdkVersion",
                                             "http://schemas.android.com/apk/res/android",
                                             "manifest",
                                             "uses-sdk",
                                             "application",
                                             "P",
                                             "N"};

static void string_pool(doc *d, int utf8)
{
	size_t at = begin_chunk(d, 0x0001, 28);
	put32(d, S_COUNT);
	put32(d, 0);
	put32(d, utf8 ? 0x100 : 0);
	size_t start_at = d->n;
	put32(d, 0);
	put32(d, 0);
	size_t offsets = d->n;
	for (int i = 0; i < S_COUNT; i++)
		put32(d, 0);
	set32(d, start_at, (uint32_t)(d->n - at));
	size_t base = d->n;
	for (int i = 0; i < S_COUNT; i++) {
		size_t len = strlen(strings[i]);
		set32(d, offsets + 4 * (size_t)i, (uint32_t)(d->n - base));
		if (utf8) {
			d->b[d->n++] = (unsigned char)len; /* UTF-16 length */
			d->b[d->n++] = (unsigned char)len; /* UTF-8 length */
			memcpy(d->b + d->n, strings[i], len + 1);
			d->n += len + 1;
		} else {
			put16(d, (unsigned)len);
			for (size_t k = 0; k <= len; k++)
				put16(d, (unsigned char)strings[i][k]);
		}
	}
	end_chunk(d, at);
}

typedef struct attr {
	uint32_t name;
	unsigned type;
	uint32_t data;
} attr;

static void start_element(doc *d, uint32_t ns, uint32_t name, const attr *a, size_t n,
                          unsigned attr_size)
{
	size_t at = begin_chunk(d, 0x0102, 16);
	put32(d, 1);
	put32(d, 0xffffffffu);
	put32(d, ns);
	put32(d, name);
	put16(d, 20);
	put16(d, attr_size);
	put16(d, (unsigned)n);
	put16(d, 0);
	put16(d, 0);
	put16(d, 0);
	for (size_t i = 0; i < n; i++) {
		put32(d, S_URI);
		put32(d, a[i].name);
		put32(d, a[i].type == 0x03 ? a[i].data : 0xffffffffu);
		put16(d, 8);
		d->b[d->n++] = 0;
		d->b[d->n++] = (unsigned char)a[i].type;
		put32(d, a[i].data);
		for (unsigned k = 20; k < attr_size; k++)
			d->b[d->n++] = 0;
	}
	end_chunk(d, at);
}

static void end_element(doc *d, uint32_t name)
{
	size_t at = begin_chunk(d, 0x0103, 16);
	put32(d, 1);
	put32(d, 0xffffffffu);
	put32(d, 0xffffffffu);
	put32(d, name);
	end_chunk(d, at);
}

/* How a test document is laid out. */
typedef struct shape {
	int utf8;
	size_t n_ids;     /* resource map entries (3: all three attributes) */
	int nest_in_app;  /* <uses-sdk> inside <application> (depth 3) */
	int twice;        /* a second <uses-sdk> with second */
	unsigned attr_sz; /* 0: 20 */
	attr second;
} shape;

static void build(doc *d, const shape *s, const attr *a, size_t n)
{
	static const uint32_t ids[] = {0x0101020c, 0x01010270, 0x01010271};
	memset(d, 0, sizeof *d);
	size_t file = begin_chunk(d, 0x0003, 8);
	string_pool(d, s->utf8);
	size_t map = begin_chunk(d, 0x0180, 8);
	for (size_t i = 0; i < s->n_ids; i++)
		put32(d, ids[i]);
	end_chunk(d, map);
	start_element(d, 0xffffffffu, S_MANIFEST, NULL, 0, 20);
	if (s->nest_in_app)
		start_element(d, 0xffffffffu, S_APP, NULL, 0, 20);
	start_element(d, 0xffffffffu, S_USES_SDK, a, n, s->attr_sz ? s->attr_sz : 20);
	end_element(d, S_USES_SDK);
	if (s->twice) {
		start_element(d, 0xffffffffu, S_USES_SDK, &s->second, 1, 20);
		end_element(d, S_USES_SDK);
	}
	if (s->nest_in_app)
		end_element(d, S_APP);
	end_element(d, S_MANIFEST);
	end_chunk(d, file);
}

static int read_sdk(const doc *d, csod_axml_sdk *sdk, csod_error *err)
{
	memset(err, 0, sizeof *err);
	return csod_axml_read_sdk(d->b, d->n, sdk, err);
}

static const attr all3[] = {{S_MIN, 0x10, 21}, {S_TARGET, 0x10, 28}, {S_MAX, 0x10, 30}};

static void test_integers_utf8_and_utf16(void **state)
{
	(void)state;
	for (int utf8 = 0; utf8 <= 1; utf8++) {
		doc d;
		shape s = {.utf8 = utf8, .n_ids = 3};
		build(&d, &s, all3, 3);
		csod_axml_sdk sdk;
		csod_error err;
		assert_int_equal(read_sdk(&d, &sdk, &err), 0);
		assert_int_equal(sdk.min_sdk, 21);
		assert_int_equal(sdk.target_sdk, 28);
		assert_int_equal(sdk.max_sdk, 30);
		assert_int_equal(sdk.uses_sdk, 1);
	}
}

static void test_hex_codename_and_defaults(void **state)
{
	(void)state;
	doc d;
	csod_axml_sdk sdk;
	csod_error err;
	shape s = {.utf8 = 1, .n_ids = 3};
	const attr hex[] = {{S_MIN, 0x11, 0x18}};
	build(&d, &s, hex, 1);
	assert_int_equal(read_sdk(&d, &sdk, &err), 0);
	assert_int_equal(sdk.min_sdk, 24);
	assert_int_equal(sdk.target_sdk, 24); /* not given: the minimum */
	assert_int_equal(sdk.max_sdk, 0);
	const attr pie[] = {{S_MIN, 0x03, S_P}, {S_TARGET, 0x03, S_N}};
	build(&d, &s, pie, 2);
	assert_int_equal(read_sdk(&d, &sdk, &err), 0);
	assert_int_equal(sdk.min_sdk, 26);
	assert_int_equal(sdk.target_sdk, 23);
	const attr negative[] = {{S_MIN, 0x10, 0xfffffff6u}};
	build(&d, &s, negative, 1);
	assert_int_equal(read_sdk(&d, &sdk, &err), 0);
	assert_int_equal(sdk.min_sdk, 1);
}

static void test_codenames_as_apksigner(void **state)
{
	(void)state;
	assert_int_equal(csod_axml_codename_sdk("AAAA"), 1);
	assert_int_equal(csod_axml_codename_sdk("CUPCAKE"), 2);
	assert_int_equal(csod_axml_codename_sdk("FROYO"), 7);
	assert_int_equal(csod_axml_codename_sdk("N"), 23);
	assert_int_equal(csod_axml_codename_sdk("NMR1"), 23);
	assert_int_equal(csod_axml_codename_sdk("OMG"), 25);
	assert_int_equal(csod_axml_codename_sdk("QQQ"), 26);
	assert_int_equal(csod_axml_codename_sdk(""), -1);
	assert_int_equal(csod_axml_codename_sdk("21"), -1);
	assert_int_equal(csod_axml_codename_sdk("pie"), -1);
}

/* What Android does not read is not read: no <uses-sdk> child of the root,
 * or one deeper; an attribute without the platform's resource id. */
static void test_what_android_ignores(void **state)
{
	(void)state;
	doc d;
	csod_axml_sdk sdk;
	csod_error err;
	shape deep = {.utf8 = 1, .n_ids = 3, .nest_in_app = 1};
	build(&d, &deep, all3, 3);
	assert_int_equal(read_sdk(&d, &sdk, &err), 0);
	assert_int_equal(sdk.min_sdk, 1);
	assert_int_equal(sdk.uses_sdk, 0);
	shape no_ids = {.utf8 = 0, .n_ids = 0};
	build(&d, &no_ids, all3, 3);
	assert_int_equal(read_sdk(&d, &sdk, &err), 0);
	assert_int_equal(sdk.min_sdk, 1);
	assert_int_equal(sdk.uses_sdk, 1);
	shape twice = {.utf8 = 1, .n_ids = 3, .twice = 1, .second = {S_MIN, 0x10, 23}};
	const attr nineteen[] = {{S_MIN, 0x10, 19}};
	build(&d, &twice, nineteen, 1);
	assert_int_equal(read_sdk(&d, &sdk, &err), 0);
	assert_int_equal(sdk.min_sdk, 23); /* the highest, as apksigner */
	assert_int_equal(sdk.uses_sdk, 2);
	shape wide = {.utf8 = 1, .n_ids = 3, .attr_sz = 24};
	build(&d, &wide, all3, 3);
	assert_int_equal(read_sdk(&d, &sdk, &err), 0);
	assert_int_equal(sdk.max_sdk, 30);
}

static void refused(const doc *d, const char *why)
{
	csod_axml_sdk sdk;
	csod_error err;
	assert_int_equal(read_sdk(d, &sdk, &err), -1);
	if (!strstr(err.msg, why))
		fail_msg("'%s' does not say '%s'", err.msg, why);
	assert_null(strchr(err.msg, '\n'));
}

static void test_refusals(void **state)
{
	(void)state;
	doc d;
	shape s = {.utf8 = 1, .n_ids = 3};
	memset(&d, 0, sizeof d);
	d.n = (size_t)snprintf((char *)d.b, sizeof d.b, "<?xml version=\"1.0\"?><manifest/>");
	refused(&d, "a text XML file");
	const attr ref[] = {{S_MIN, 0x01, 0x7f010001}};
	build(&d, &s, ref, 1);
	refused(&d, "android:minSdkVersion has a value of type 0x01");
	const attr max_name[] = {{S_MAX, 0x03, S_P}};
	build(&d, &s, max_name, 1);
	refused(&d, "android:maxSdkVersion has a value of type 0x03, not an integer");
	const attr not_codename[] = {{S_MIN, 0x03, S_USES_SDK}};
	build(&d, &s, not_codename, 1);
	refused(&d, "\"uses-sdk\" is neither an integer nor a codename");
	const attr bad_string[] = {{S_MIN, 0x03, 999}};
	build(&d, &s, bad_string, 1);
	refused(&d, "string index 999 out of range");
	shape narrow = {.utf8 = 1, .n_ids = 3, .attr_sz = 12};
	build(&d, &narrow, all3, 3);
	refused(&d, "attributes of 12 bytes");
	build(&d, &s, all3, 3);
	d.n -= 4;
	refused(&d, "cut short");
	build(&d, &s, all3, 3);
	d.b[8 + 4] = 0xff; /* the string pool's size: past the file */
	refused(&d, "bad binary XML chunk (type 0x0001) at offset 8");
	build(&d, &s, all3, 3);
	set32(&d, 8 + 28 + 4 * S_USES_SDK, 0x7ffffff0u); /* the element name's offset */
	refused(&d, "string 5 lies outside its pool");
	doc empty = {.n = 8};
	set32(&empty, 0, 0x00080003);
	set32(&empty, 4, 8);
	refused(&empty, "without any element");
}

/* Parses a copy of exactly n bytes, so that ASan sees any read past them. */
static int read_exact(const unsigned char *b, size_t n, csod_axml_sdk *sdk)
{
	unsigned char *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	memcpy(copy, b, n);
	csod_error err;
	int rc = csod_axml_read_sdk(copy, n, sdk, &err);
	free(copy);
	return rc;
}

/* Every cut and every one-byte change of a valid document: a result or a
 * reason, never a read outside the buffer (ASan) or a minimum below 1. */
static void test_every_cut_and_byte(void **state)
{
	(void)state;
	static const unsigned char values[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
	for (int utf8 = 0; utf8 <= 1; utf8++) {
		doc d;
		shape s = {.utf8 = utf8, .n_ids = 3};
		build(&d, &s, all3, 3);
		csod_axml_sdk sdk;
		assert_int_equal(read_exact(d.b, d.n, &sdk), 0);
		for (size_t n = 0; n < d.n; n++)
			assert_int_equal(read_exact(d.b, n, &sdk), -1);
		for (size_t i = 0; i < d.n; i++)
			for (size_t v = 0; v < sizeof values; v++) {
				doc m = d;
				m.b[i] = values[v];
				if (read_exact(m.b, m.n, &sdk) == 0)
					assert_true(sdk.min_sdk >= 1);
			}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_integers_utf8_and_utf16),
	    cmocka_unit_test(test_hex_codename_and_defaults),
	    cmocka_unit_test(test_codenames_as_apksigner),
	    cmocka_unit_test(test_what_android_ignores),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_every_cut_and_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
