/* MSIX/APPX (appx_xml.c, appx_package.c, appx.c): the manifest's
 * publisher and the block map's hash method read past decoys, the names
 * Windows compares, the content type added once; then a package built
 * here signed and self-checked, and the self-check catching a changed
 * byte, a changed content type and a moved signature. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "../../signers/authenticode/appx_xml.h"
#include "../../signers/java/zip_write.h"
#include "../../signers/signer.h"
#include "signing_fixture.h"

extern const csod_signer csod_signer_appx;

static const char *publisher_of(const char *xml, char *out, size_t cap)
{
	csod_error err;
	return csod_appx_publisher(xml, strlen(xml), out, cap, &err) == 0 ? out : err.msg;
}

static void test_publisher(void **state)
{
	(void)state;
	char out[CSOD_APPX_NAME_MAX];
	assert_string_equal(
	    publisher_of(
	        "<?xml version='1.0'?><!-- <Identity Publisher=\"CN=decoy\"/> -->"
	        "<Package><![CDATA[<Identity Publisher='CN=cdata'/>]]>"
	        "<IdentityX Publisher=\"CN=x\"/>"
	        "<m:Identity Name=\"a\" Publisher = 'CN=A &amp; B, O=&quot;Q&quot;&#x41;&#66;'/>",
	        out, sizeof out),
	    "CN=A & B, O=\"Q\"AB");
	assert_string_equal(publisher_of("<Identity Publisher=\"caf&#233;\"/>", out, sizeof out),
	                    "caf\xc3\xa9");
	const char *bad[] = {"<Package/>",
	                     "<Identity Name=\"x\"/>",
	                     "<Identity Publisher=\"a &nbsp; b\"/>",
	                     "<Identity Publisher=\"a &#0; b\"/>",
	                     "<Identity Publisher=\"CN=x",
	                     "<Identity Publisher=CN/>",
	                     "<!-- <Identity Publisher=\"CN=x\"/>",
	                     "<Identity Publisher=\"\"/>"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		csod_error err;
		assert_int_equal(csod_appx_publisher(bad[i], strlen(bad[i]), out, sizeof out, &err),
		                 -1);
		assert_true(strstr(err.msg, "Identity") || strstr(err.msg, "markup") ||
		            strstr(err.msg, "entity") || strstr(err.msg, "reference"));
	}
	csod_error err;
	/* A '<' as the text's last byte (found by fuzz_appx). */
	char *lt = malloc(4);
	memcpy(lt, "abc<", 4);
	assert_int_equal(csod_appx_publisher(lt, 4, out, sizeof out, &err), -1);
	assert_non_null(strstr(err.msg, "no <Identity> element"));
	free(lt);
	const char *longer = "<Identity Publisher=\"abcdefgh\"/>";
	assert_int_equal(csod_appx_publisher(longer, strlen(longer), out, 5, &err), -1);
}

static void test_hash_method(void **state)
{
	(void)state;
	csod_error err;
	const char *m384 = "<!-- <BlockMap HashMethod=\"x\"> --><BlockMap xmlns=\"b\" "
	                   "HashMethod=\"http://www.w3.org/2001/04/xmldsig-more#sha384\">";
	assert_ptr_equal(csod_appx_hash_method(m384, strlen(m384), &err), EVP_sha384());
	const char *m256 = "<BlockMap HashMethod='http://www.w3.org/2001/04/xmlenc#sha256'>";
	assert_ptr_equal(csod_appx_hash_method(m256, strlen(m256), &err), EVP_sha256());
	const char *md5 = "<BlockMap HashMethod=\"http://www.w3.org/2001/04/xmldsig-more#md5\">";
	assert_null(csod_appx_hash_method(md5, strlen(md5), &err));
	assert_non_null(strstr(err.msg, "unknown HashMethod"));
}

static void canonical(const char *pub, const char *want)
{
	char out[CSOD_APPX_NAME_MAX];
	csod_error err;
	assert_int_equal(csod_appx_publisher_canonical(pub, out, sizeof out, &err), 0);
	assert_string_equal(out, want);
}

static void test_names(void **state)
{
	(void)state;
	canonical("CN=Dagwood Bumstead, O=Dithers, C=US", "CN=Dagwood Bumstead, O=Dithers, C=US");
	canonical("cn = Dagwood Bumstead ,O=\"Dithers\",ST=Ohio;C=US",
	          "CN=Dagwood Bumstead, O=Dithers, S=Ohio, C=US");
	canonical("CN=\"A, B \"\"C\"\"\", OU=x+CN=y, E=a@b",
	          "CN=\"A, B \"\"C\"\"\", OU=x + CN=y, E=a@b");
	canonical("CN=a\\,b, OID.1.2.3=v", "CN=\"a,b\", OID.1.2.3=v");
	const char *bad[] = {"", "CN", "=x", "CN=\"x", "CN=\"x\" y"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char out[64];
		csod_error err;
		assert_int_equal(csod_appx_publisher_canonical(bad[i], out, sizeof out, &err), -1);
	}
	/* The closing quote and the NUL must fit too (found by fuzz_appx). */
	char five[5], six[6];
	csod_error err;
	assert_int_equal(csod_appx_publisher_canonical("CN=\"\"", five, sizeof five, &err), -1);
	assert_int_equal(csod_appx_publisher_canonical("CN=\"\"", six, sizeof six, &err), 0);
	assert_string_equal(six, "CN=\"\"");
	X509_NAME *n = X509_NAME_new();
	X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "ST", MBSTRING_ASC, (const unsigned char *)"Ohio", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"A, Inc.", -1, -1,
	                           0);
	X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC, (const unsigned char *)"x", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"y", -1, -1, -1);
	X509_NAME_add_entry_by_txt(n, "emailAddress", MBSTRING_ASC, (const unsigned char *)"a@b",
	                           -1, -1, 0);
	char text[CSOD_APPX_NAME_MAX];
	assert_int_equal(csod_appx_subject_text(n, text, sizeof text), 0);
	assert_string_equal(text, "E=a@b, CN=y + OU=x, O=\"A, Inc.\", S=Ohio, C=US");
	assert_int_equal(csod_appx_subject_text(n, text, 10), -1);
	X509_NAME_free(n);
}

static void test_content_types(void **state)
{
	(void)state;
	const char *ct = "<Types><Default Extension=\"x\"/></Types>\r\n";
	unsigned char *out = NULL, *again = NULL;
	size_t len = 0, len2 = 0;
	csod_error err;
	assert_int_equal(csod_appx_content_types_signed(ct, strlen(ct), &out, &len, &err), 0);
	assert_string_equal(
	    (char *)out,
	    "<Types><Default Extension=\"x\"/><Override PartName=\"/AppxSignature.p7x\" "
	    "ContentType=\"application/vnd.ms-appx.signature\"/></Types>\r\n");
	assert_int_equal(len, strlen((char *)out));
	assert_int_equal(csod_appx_content_types_signed((char *)out, len, &again, &len2, &err), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(again, out, len);
	free(out);
	free(again);
	assert_int_equal(csod_appx_content_types_signed("<Types>", 7, &out, &len, &err), -1);
}

/* A <File> of a block map for data named name: SHA-256 of each 64 KiB
 * block, base64; the first block's hash spoilt when bad. */
static void block_map_file(char *out, size_t cap, const char *name, const unsigned char *data,
                           size_t len, int bad)
{
	size_t o = (size_t)snprintf(out, cap, "<File Name=\"%s\" Size=\"%zu\" LfhSize=\"%zu\">",
	                            name, len, 30 + strlen(name));
	for (size_t at = 0; at < len; at += 65536) {
		unsigned char h[32], b64[64];
		SHA256(data + at, len - at < 65536 ? len - at : 65536, h);
		h[0] ^= bad && at == 0;
		EVP_EncodeBlock(b64, h, sizeof h);
		o += (size_t)snprintf(out + o, cap - o, "<Block Hash=\"%s\"/>", b64);
	}
	snprintf(out + o, cap - o, "</File>");
}

/* A package written with the project's own ZIP writer, its block map
 * right unless bad_block. */
static int package_with(const char *publisher, int bad_block)
{
	char manifest[512], bm[2048], app_file[512], manifest_file[512];
	snprintf(manifest, sizeof manifest,
	         "<Package><Identity Name=\"t\" Publisher=\"%s\" Version=\"1.0.0.0\"/></Package>",
	         publisher);
	static unsigned char app[70000];
	for (size_t i = 0; i < sizeof app; i++)
		app[i] = (unsigned char)(i * 7);
	block_map_file(app_file, sizeof app_file, "app.bin", app, sizeof app, bad_block);
	block_map_file(manifest_file, sizeof manifest_file, "AppxManifest.xml",
	               (const unsigned char *)manifest, strlen(manifest), 0);
	snprintf(bm, sizeof bm,
	         "<BlockMap xmlns=\"http://schemas.microsoft.com/appx/2010/blockmap\" "
	         "HashMethod=\"http://www.w3.org/2001/04/xmlenc#sha256\">%s%s</BlockMap>",
	         app_file, manifest_file);
	static const char ct[] = "<Types><Default Extension=\"bin\" ContentType=\"a/b\"/></Types>";
	int fd = memfd_create("pkg", 0);
	csod_zip_out o;
	csod_error err;
	csod_zip_out_init(&o, fd);
	assert_int_equal(csod_zip_out_add(&o, "app.bin", app, sizeof app, 0, &err), 0);
	assert_int_equal(csod_zip_out_add(&o, "AppxManifest.xml", (unsigned char *)manifest,
	                                  strlen(manifest), 0, &err),
	                 0);
	assert_int_equal(
	    csod_zip_out_add(&o, "AppxBlockMap.xml", (unsigned char *)bm, strlen(bm), 0, &err), 0);
	assert_int_equal(csod_zip_out_add(&o, "[Content_Types].xml", (const unsigned char *)ct,
	                                  strlen(ct), 0, &err),
	                 0);
	csod_buf tail = {0};
	uint64_t cd_offset = o.pos;
	csod_buf_add(&tail, o.cd.p, o.cd.len);
	csod_zip_out_eocd(&o, cd_offset, NULL, 0, &tail);
	assert_int_equal(csod_zip_out_write(&o, tail.p, tail.len, &err), 0);
	csod_buf_free(&tail);
	csod_zip_out_free(&o);
	return fd;
}

static int package(const char *publisher)
{
	return package_with(publisher, 0);
}

static void flip(int fd, off_t at)
{
	unsigned char c;
	assert_int_equal(pread(fd, &c, 1, at), 1);
	c ^= 1;
	assert_int_equal(pwrite(fd, &c, 1, at), 1);
}

static void test_sign_and_check(void **state)
{
	(void)state;
	test_signer t = test_signer_new("csod unit");
	csod_identity id = {t.key, t.cert, NULL};
	csod_sign_options opt = {.n_digests = 0};
	csod_error err;
	int in = package("CN=csod unit");
	assert_int_equal(csod_signer_appx.check(in, "t.msix", &err), 0);
	int out = memfd_create("out", 0);
	assert_int_equal(csod_signer_appx.sign(in, out, &id, &opt, &err), 0);
	assert_int_equal(csod_signer_appx.verify(in, out, t.trust, &err), 0);
	/* A byte of app.bin (its data starts after a 30-byte header and the name). */
	flip(out, 30 + 7 + 5);
	assert_int_equal(csod_signer_appx.verify(in, out, t.trust, &err), -1);
	flip(out, 30 + 7 + 5);
	assert_int_equal(csod_signer_appx.verify(in, out, t.trust, &err), 0);
	/* Another input: the output does not hold it. */
	int other = package("CN=csod unit ");
	assert_int_equal(csod_signer_appx.verify(other, out, t.trust, &err), -1);
	assert_non_null(strstr(err.msg, "AppxManifest.xml differs from the input's"));
	close(other);
	/* An untrusted signer is not ours. */
	X509_STORE *empty = X509_STORE_new();
	assert_int_equal(csod_signer_appx.verify(in, out, empty, &err), -1);
	X509_STORE_free(empty);
	close(out);
	close(in);

	/* A block map that does not match its files. */
	in = package_with("CN=csod unit", 1);
	assert_int_equal(csod_signer_appx.check(in, "bad.msix", &err), -1);
	assert_non_null(strstr(err.msg, "bad.msix: AppxBlockMap.xml does not match the package: "
	                                "app.bin does not match its block hashes"));
	out = memfd_create("out", 0);
	assert_int_equal(csod_signer_appx.sign(in, out, &id, &opt, &err), -1);
	close(out);
	/* sign() skips the block map only for the file check() passed: after
	 * a good package's check, the bad one is still refused. */
	int good = package("CN=csod unit");
	assert_int_equal(csod_signer_appx.check(good, "good.msix", &err), 0);
	out = memfd_create("out", 0);
	assert_int_equal(csod_signer_appx.sign(in, out, &id, &opt, &err), -1);
	assert_non_null(strstr(err.msg, "app.bin does not match its block hashes"));
	close(out);
	close(good);
	close(in);

	in = package("CN=somebody else");
	out = memfd_create("out", 0);
	assert_int_equal(csod_signer_appx.sign(in, out, &id, &opt, &err), -1);
	assert_non_null(
	    strstr(err.msg, "is not the signing certificate's subject \"CN=csod unit\""));
	close(out);
	close(in);
	test_signer_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_publisher),      cmocka_unit_test(test_hash_method),
	    cmocka_unit_test(test_names),          cmocka_unit_test(test_content_types),
	    cmocka_unit_test(test_sign_and_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
