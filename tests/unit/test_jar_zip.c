/* Unit tests for the JAR engine's pieces: manifest line wrapping and
 * round trips, the ZIP writer and reader together, and refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../signers/java/manifest.h"
#include "../../signers/java/zip_read.h"
#include "../../signers/java/zip_write.h"

static void test_wrap_72(void **state)
{
	(void)state;
	char value[301];
	memset(value, 'v', 300);
	value[300] = 0;
	csod_buf b = {0};
	csod_mf_emit_line(&b, "X-Long", value);
	csod_buf_add(&b, "\r\n", 2);
	/* Every physical line at most 72 bytes, continuations start with a space. */
	size_t start = 0, lines = 0;
	for (size_t i = 0; i + 1 < b.len; i++) {
		if (b.p[i] == '\r' && b.p[i + 1] == '\n') {
			assert_true(i - start <= 72);
			if (lines > 0 && i > start)
				assert_int_equal(b.p[start], ' ');
			lines++;
			start = i + 2;
		}
	}
	assert_true(lines >= 5);
	csod_manifest m;
	csod_error err;
	assert_int_equal(csod_mf_parse(&m, b.p, b.len, "test", &err), 0);
	assert_string_equal(csod_mf_get(&m.main, "x-long"), value);
	csod_mf_free(&m);
	csod_buf_free(&b);
}

static void test_wrap_keeps_utf8(void **state)
{
	(void)state;
	char value[2 * 80 + 2] = "a"; /* odd start so 2-byte chars straddle 72 */
	for (int i = 0; i < 80; i++)
		strcat(value, "\xc3\xa9");
	csod_buf b = {0};
	csod_mf_emit_line(&b, "Name", value);
	size_t breaks = 0;
	for (size_t i = 0; i + 2 < b.len; i++)
		if (b.p[i] == '\n' && i + 2 < b.len) {
			assert_int_not_equal(b.p[i + 2] & 0xc0, 0x80); /* after "\n " */
			breaks++;
		}
	assert_true(breaks >= 2); /* 167 bytes: it was wrapped, so the check above ran */
	csod_buf_free(&b);
}

static void test_raw_sections_kept(void **state)
{
	(void)state;
	const char *mf = "Manifest-Version: 1.0\nCreated-By: someone\n\n"
	                 "Name: a/b.class\nSHA-256-Digest: abc=\n\n"
	                 "Name: c.txt\nX-Other: 1\n\n";
	csod_manifest m;
	csod_error err;
	assert_int_equal(csod_mf_parse(&m, (const unsigned char *)mf, strlen(mf), "t", &err), 0);
	csod_buf out = {0};
	csod_mf_emit(&m, &out);
	assert_int_equal(out.len, strlen(mf));
	assert_memory_equal(out.p, mf, out.len);
	/* Same value: still raw. A new value: that section alone re-emitted. */
	csod_mf_section *s = csod_mf_find(&m, "a/b.class");
	assert_non_null(s);
	assert_int_equal(csod_mf_set(s, "SHA-256-Digest", "abc="), 0);
	assert_non_null(s->raw);
	assert_int_equal(csod_mf_set(s, "SHA-256-Digest", "xyz="), 0);
	assert_null(s->raw);
	out.len = 0;
	csod_mf_emit(&m, &out);
	csod_buf_add(&out, "", 1);
	assert_non_null(strstr((char *)out.p, "Name: a/b.class\r\nSHA-256-Digest: xyz=\r\n\r\n"));
	assert_non_null(strstr((char *)out.p, "Name: c.txt\nX-Other: 1\n\n"));
	assert_int_equal(csod_mf_remove_suffix(s, "-digest"), 1);
	csod_buf_free(&out);
	csod_mf_free(&m);
}

static void test_bad_manifests(void **state)
{
	(void)state;
	const char *bad[] = {
	    " continues nothing\n\n",
	    "Manifest-Version: 1.0\n\nX-Not-Name: a\n\n",
	    "Manifest-Version: 1.0\n\nName: a\n\nName: a\n\n",
	    "No colon here\n\n",
	    "Bad Name: x\n\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		csod_manifest m;
		csod_error err;
		assert_int_equal(csod_mf_parse(&m, (const unsigned char *)bad[i], strlen(bad[i]),
		                               "MANIFEST.MF", &err),
		                 -1);
		assert_non_null(strstr(err.msg, "MANIFEST.MF"));
	}
}

static int memfd_with(const void *data, size_t len)
{
	int fd = memfd_create("t", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	return fd;
}

static int collect(void *ctx, const unsigned char *data, size_t len)
{
	csod_buf_add(ctx, data, len);
	return 0;
}

static void test_write_then_read(void **state)
{
	(void)state;
	int fd = memfd_create("t", MFD_CLOEXEC);
	csod_zip_out o;
	csod_zip_out_init(&o, fd);
	csod_error err;
	assert_int_equal(csod_zip_out_add(&o, "a.txt", (const unsigned char *)"hello", 5, 4, &err),
	                 0);
	assert_int_equal(
	    csod_zip_out_add(&o, "dir/lib.so", (const unsigned char *)"x", 1, 4096, &err), 0);
	uint64_t cd = o.pos;
	csod_buf eocd = {0};
	assert_int_equal(csod_zip_out_write(&o, o.cd.p, o.cd.len, &err), 0);
	csod_zip_out_eocd(&o, cd, NULL, 0, &eocd);
	assert_int_equal(csod_zip_out_write(&o, eocd.p, eocd.len, &err), 0);
	csod_zip z;
	assert_int_equal(csod_zip_open(&z, fd, "t.zip", &err), 0);
	assert_int_equal(z.n_entries, 2);
	assert_int_equal(z.entries[0].data_offset % 4, 0);
	assert_int_equal(z.entries[1].data_offset % 4096, 0);
	csod_buf got = {0};
	assert_int_equal(csod_zip_read_entry(&z, &z.entries[0], collect, &got, &err), 0);
	assert_int_equal(got.len, 5);
	assert_memory_equal(got.p, "hello", 5);
	assert_int_equal(csod_zip_find(&z, "dir/lib.so"), 1);
	csod_zip_close(&z);
	csod_buf_free(&got);
	csod_buf_free(&eocd);
	csod_zip_out_free(&o);
	close(fd);
}

static void test_not_zip(void **state)
{
	(void)state;
	unsigned char junk[3000];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (unsigned char)(i * 7);
	const size_t sizes[] = {0, 10, 22, sizeof junk};
	for (size_t i = 0; i < 4; i++) {
		int fd = memfd_with(junk, sizes[i]);
		csod_zip z;
		csod_error err;
		assert_int_equal(csod_zip_open(&z, fd, "junk.jar", &err), -1);
		assert_non_null(strstr(err.msg, "junk.jar: "));
		close(fd);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wrap_72),           cmocka_unit_test(test_wrap_keeps_utf8),
	    cmocka_unit_test(test_raw_sections_kept), cmocka_unit_test(test_bad_manifests),
	    cmocka_unit_test(test_write_then_read),   cmocka_unit_test(test_not_zip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
