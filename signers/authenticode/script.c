/* Authenticode for scripts (script_format.h): one engine per script kind,
 * chosen by the file's extension (scripts carry no magic). A script is
 * read whole (capped at CSOD_SCRIPT_MAX bytes): its signed version is
 * written from that copy around the new block; the self-check reads the
 * input and the output, so memory peaks at twice the script's size. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/fileio.h"
#include "../signer.h"
#include "detached.h"
#include "script_format.h"
#include "spc.h"

/* A script read and parsed; free(text) when done. */
typedef struct script_file {
	unsigned char *text;
	csod_script s;
} script_file;

static int load(int fd, csod_script_kind kind, uint64_t max, script_file *f, csod_error *err)
{
	size_t len = 0;
	if (csod_read_whole(fd, max, "scripts", &f->text, &len, err) < 0)
		return -1;
	if (csod_script_parse(&f->s, kind, f->text, len, err) < 0) {
		free(f->text);
		f->text = NULL;
		return -1;
	}
	return 0;
}

static PKCS7 *existing_signature(const csod_script *s, csod_error *err)
{
	unsigned char *der = NULL;
	size_t len = 0;
	if (csod_script_signature(s, &der, &len, err) < 0)
		return NULL;
	const unsigned char *p = der;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
	if (p7 && p != der + len) {
		PKCS7_free(p7);
		p7 = NULL;
	}
	free(der);
	if (!p7)
		csod_fail(err, "the signature block does not hold a PKCS#7 signature");
	return p7;
}

static int hash_script(void *ctx, const EVP_MD *md, unsigned char *out, unsigned *out_len,
                       csod_error *err)
{
	return csod_script_hash(ctx, md, out, out_len, err);
}

/* The script with a block holding der in place of any it has. */
static int write_with_block(const script_file *f, const unsigned char *der, size_t der_len, int out,
                            csod_error *err)
{
	unsigned char *block = NULL;
	size_t block_len = 0, head_end, tail_at;
	if (csod_script_block(&f->s, der, der_len, &block, &block_len, err) < 0)
		return -1;
	csod_script_around_block(&f->s, &head_end, &tail_at);
	int rc = csod_pwrite_all(out, f->text, head_end, 0, err) == 0 &&
	                 csod_pwrite_all(out, block, block_len, (off_t)head_end, err) == 0 &&
	                 csod_pwrite_all(out, f->text + tail_at, f->s.len - tail_at,
	                                 (off_t)(head_end + block_len), err) == 0
	             ? 0
	             : -1;
	free(block);
	return rc;
}

static int script_sign(csod_script_kind kind, int in, int out, const csod_identity *id,
                       const csod_sign_options *opt, csod_error *err)
{
	uint64_t max = CSOD_SCRIPT_MAX;
	if (opt->max_size > 0 && (uint64_t)opt->max_size < max)
		max = (uint64_t)opt->max_size;
	script_file f;
	if (load(in, kind, max, &f, err) < 0)
		return -1;
	PKCS7 *existing = NULL;
	unsigned char *der = NULL;
	int rc = -1;
	if (opt->append && f.s.has_block && !(existing = existing_signature(&f.s, err)))
		goto out;
	size_t sip_len = 0;
	const unsigned char *sip = csod_script_sip_info(kind, &sip_len);
	int der_len =
	    csod_spc_sign_sip_der(id, opt, sip, sip_len, existing, hash_script, &f.s, &der, err);
	if (der_len < 0)
		goto out;
	existing = NULL; /* freed with the signature, if it was used */
	rc = write_with_block(&f, der, (size_t)der_len, out, err);
out:
	OPENSSL_free(der);
	PKCS7_free(existing);
	free(f.text);
	return rc;
}

static int check_hash(void *ctx, const EVP_MD *md, const unsigned char *digest, size_t len,
                      csod_error *err)
{
	unsigned char mine[EVP_MAX_MD_SIZE];
	unsigned mine_len = 0;
	if (csod_script_hash(ctx, md, mine, &mine_len, err) < 0)
		return -1;
	if (mine_len != len || memcmp(mine, digest, len) != 0)
		return csod_fail(err, "the %s script hash does not match the signed one",
		                 EVP_MD_get0_name(md));
	return 0;
}

/* The signature's SpcIndirectDataContent names this kind's SIP. */
static int right_sip(PKCS7 *p7, csod_script_kind kind, csod_error *err)
{
	size_t sip_len = 0;
	const unsigned char *sip = csod_script_sip_info(kind, &sip_len);
	if (!csod_spc_names_sip(p7, sip, sip_len))
		return csod_fail(err, "the signature is not for a %s (not its SIP)",
		                 csod_script_kind_name(kind));
	return 0;
}

static int script_verify(csod_script_kind kind, int in, int out, X509_STORE *trust, csod_error *err)
{
	script_file a, b;
	if (load(in, kind, CSOD_SCRIPT_MAX, &a, err) < 0)
		return -1;
	if (load(out, kind, CSOD_SCRIPT_MAX, &b, err) < 0) {
		free(a.text);
		return -1;
	}
	int rc = -1;
	PKCS7 *p7 = NULL;
	if (!csod_script_same_content(&a.s, &b.s))
		csod_fail(err, "the signed script's text differs from the input's");
	else if ((p7 = existing_signature(&b.s, err)) && right_sip(p7, kind, err) == 0)
		rc = csod_spc_verify(p7, trust, check_hash, &b.s, err);
	PKCS7_free(p7);
	free(a.text);
	free(b.text);
	return rc;
}

static int script_check(csod_script_kind kind, int fd, const char *name, csod_error *err)
{
	script_file f;
	csod_error why;
	if (load(fd, kind, CSOD_SCRIPT_MAX, &f, &why) < 0)
		return csod_fail(err, "%s: %s", name, why.msg);
	PKCS7 *p7 = f.s.has_block ? existing_signature(&f.s, &why) : NULL;
	int bad = f.s.has_block && !p7;
	PKCS7_free(p7);
	free(f.text);
	return bad ? csod_fail(err, "%s: %s", name, why.msg) : 0;
}

/* The PKCS#7 the signature block holds (base64 in the comment lines),
 * decoded: what osslsigncode's extract-signature gives. */
static int script_extract(csod_script_kind kind, int fd, unsigned char **sig, size_t *len,
                          csod_error *err)
{
	script_file f;
	if (load(fd, kind, CSOD_SCRIPT_MAX, &f, err) < 0)
		return -1;
	unsigned char *der = NULL;
	size_t n = 0;
	int rc = !f.s.has_block ? csod_fail(err, "the script is not signed (no signature block)")
	         : csod_script_signature(&f.s, &der, &n, err) < 0
	             ? -1
	             : csod_detached_take(der, n, sig, len, err);
	free(der);
	free(f.text);
	return rc;
}

/* As script_sign without appending, with the signature given. */
static int script_attach(csod_script_kind kind, int in, int out, const unsigned char *sig,
                         size_t len, csod_error *err)
{
	script_file f;
	if (csod_detached_check(sig, len, err) < 0 || load(in, kind, CSOD_SCRIPT_MAX, &f, err) < 0)
		return -1;
	int rc = write_with_block(&f, sig, len, out, err);
	free(f.text);
	return rc;
}

/* Text, as far as the head shows: UTF-16LE by its BOM, else no NUL. The
 * registry takes scripts by name; check() looks closer. */
static int script_detect(const unsigned char *head, size_t len, off_t size)
{
	(void)size;
	if (len >= 2 && head[0] == 0xff && head[1] == 0xfe)
		return 1;
	return len > 0 && !memchr(head, 0, len);
}

/* One engine per kind: the kind decides the block's syntax, the SIP and
 * the hash, and verify() has no file name to take it from. */
#define SCRIPT_ENGINE(var, engine_name, kind, ...)                                                 \
	static int var##_sign(int in, int out, const csod_identity *id,                            \
	                      const csod_sign_options *opt, csod_error *err)                       \
	{                                                                                          \
		return script_sign(kind, in, out, id, opt, err);                                   \
	}                                                                                          \
	static int var##_verify(int in, int out, X509_STORE *trust, csod_error *err)               \
	{                                                                                          \
		return script_verify(kind, in, out, trust, err);                                   \
	}                                                                                          \
	static int var##_check(int fd, const char *name, csod_error *err)                          \
	{                                                                                          \
		return script_check(kind, fd, name, err);                                          \
	}                                                                                          \
	static int var##_extract(int fd, unsigned char **sig, size_t *len, csod_error *err)        \
	{                                                                                          \
		return script_extract(kind, fd, sig, len, err);                                    \
	}                                                                                          \
	static int var##_attach(int in, int out, const unsigned char *sig, size_t len,             \
	                        csod_error *err)                                                   \
	{                                                                                          \
		return script_attach(kind, in, out, sig, len, err);                                \
	}                                                                                          \
	static const char *const var##_extensions[] = {__VA_ARGS__, NULL};                         \
	const csod_signer csod_signer_##var = {                                                    \
	    .name = engine_name,                                                                   \
	    .service = "authenticode",                                                             \
	    .detect = script_detect,                                                               \
	    .output_name = NULL,                                                                   \
	    .sign = var##_sign,                                                                    \
	    .check = var##_check,                                                                  \
	    .verify = var##_verify,                                                                \
	    .extensions = var##_extensions,                                                        \
	    .extract_signature = var##_extract,                                                    \
	    .attach_signature = var##_attach,                                                      \
	};

SCRIPT_ENGINE(powershell, "powershell", CSOD_SCRIPT_PS, "ps1", "psm1", "psd1")
SCRIPT_ENGINE(powershell_xml, "powershell-xml", CSOD_SCRIPT_PSXML, "ps1xml")
SCRIPT_ENGINE(vbscript, "vbscript", CSOD_SCRIPT_VBS, "vbs")
SCRIPT_ENGINE(jscript, "jscript", CSOD_SCRIPT_JS, "js")
SCRIPT_ENGINE(wsf, "wsf", CSOD_SCRIPT_WSF, "wsf")
