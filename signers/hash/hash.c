/* Hash signing: the developer sends a digest instead of the file, and gets
 * back a detached CMS SignedData whose signed messageDigest is that digest.
 * `openssl cms -verify -binary -content FILE` then accepts it for the file,
 * which never left the developer's machine. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "../common/timestamp.h"
#include "../signer.h"
#include "digest_parse.h"

static int read_text(int fd, char *buf, size_t *len, csod_error *err)
{
	ssize_t n = pread(fd, buf, CSOD_DIGEST_FILE_MAX + 1, 0);
	if (n < 0)
		return csod_fail_errno(err, "cannot read the digest file");
	*len = (size_t)n;
	return 0;
}

static int read_digest(int fd, const char *name, csod_parsed_digest *d, csod_error *err)
{
	char buf[CSOD_DIGEST_FILE_MAX + 1];
	size_t n = 0;
	if (read_text(fd, buf, &n, err) < 0)
		return -1;
	return csod_digest_parse(buf, n, name, d, err);
}

/* Whether the first non-blank line holds a run of hex digits as long as
 * some digest: such a file is taken as a digest file even when something
 * else in it is wrong (a second line, a tag naming another algorithm), so
 * that check() can say precisely what. */
static int first_line_has_digest(const unsigned char *p, const unsigned char *end)
{
	while (p < end && isspace(*p))
		p++;
	while (p < end && *p != '\n') {
		size_t n = 0;
		while (p + n < end && isxdigit(p[n]))
			n++;
		if (n == 32 || n == 40 || n == 64 || n == 96 || n == 128)
			return 1;
		p += n ? n : 1;
	}
	return 0;
}

static int hash_detect(const unsigned char *head, size_t headlen, off_t size)
{
	csod_parsed_digest d;
	return size <= CSOD_DIGEST_FILE_MAX && !memchr(head, '\0', headlen) &&
	       (first_line_has_digest(head, head + headlen) ||
	        csod_digest_parse((const char *)head, headlen, NULL, &d, NULL) == 0);
}

static int write_all(int fd, const unsigned char *data, size_t len, csod_error *err)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n <= 0)
			return csod_fail_errno(err, "cannot write the signature");
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The file's text and, when it is a list of several files' digests, its
 * lines (checked); *n below 2 means one digest. */
static int read_list(int fd, const char *name, char *buf, size_t *len, csod_digest_line **lines,
                     int *n, csod_error *err)
{
	*lines = NULL;
	*n = 0;
	if (read_text(fd, buf, len, err) < 0 ||
	    csod_digest_list(buf, *len, name, lines, n, err) < 0)
		return -1;
	return 0;
}

static int hash_check(int fd, const char *name, csod_error *err)
{
	char buf[CSOD_DIGEST_FILE_MAX + 1];
	size_t len = 0;
	csod_digest_line *lines;
	int n;
	if (read_list(fd, name, buf, &len, &lines, &n, err) < 0)
		return -1;
	free(lines);
	csod_parsed_digest d;
	return n > 1 ? 0 : csod_digest_parse(buf, len, name, &d, err);
}

/* A list: one part per line, each a descriptor holding that line alone (a
 * digest file of one line), whose signature is named after the file the
 * line names. */
static int hash_split(int fd, const char *name, csod_part **parts, int *n, csod_error *err)
{
	char buf[CSOD_DIGEST_FILE_MAX + 1];
	size_t len = 0;
	csod_digest_line *lines;
	int count;
	*parts = NULL;
	*n = 0;
	if (read_list(fd, name, buf, &len, &lines, &count, err) < 0)
		return -1;
	if (count < 2)
		return 0;
	csod_part *p = calloc((size_t)count, sizeof *p);
	int made = 0, rc = p ? 0 : csod_fail(err, "out of memory");
	for (; rc == 0 && made < count; made++) {
		const csod_digest_line *l = &lines[made];
		snprintf(p[made].output, sizeof p[made].output, "%s.p7s", l->digest.file);
		p[made].fd = memfd_create("csod-digest-line", MFD_CLOEXEC);
		if (p[made].fd < 0 ||
		    write_all(p[made].fd, (const unsigned char *)l->text, l->len, err) < 0 ||
		    write_all(p[made].fd, (const unsigned char *)"\n", 1, err) < 0)
			rc = csod_fail_errno(err, "line %d: cannot hold it apart", l->line);
	}
	free(lines);
	if (rc < 0) {
		csod_parts_free(p, made);
		return -1;
	}
	*parts = p;
	*n = count;
	return 0;
}

static int hash_output_name(const char *in, char *out, size_t len)
{
	return snprintf(out, len, "%s.p7s", in);
}

/* The RFC 3161 token over the signature value, as the unsigned attribute
 * id-aa-signatureTimeStampToken (RFC 3161 appendix A). */
static int add_timestamp(CMS_SignerInfo *si, const EVP_MD *md, const csod_sign_options *opt,
                         csod_error *err)
{
	ASN1_OCTET_STRING *sig = CMS_SignerInfo_get0_signature(si);
	unsigned char *token = NULL;
	size_t token_len = 0;
	int rc = csod_timestamp_rfc3161(&opt->timestamp, md, ASN1_STRING_get0_data(sig),
	                                (size_t)ASN1_STRING_length(sig), &token, &token_len, err);
	if (rc <= 0)
		return rc;
	const unsigned char *p = token;
	ASN1_TYPE *value = d2i_ASN1_TYPE(NULL, &p, (long)token_len);
	int ok = value && CMS_unsigned_add1_attr_by_NID(si, NID_id_smime_aa_timeStampToken,
	                                                V_ASN1_SEQUENCE, value->value.sequence, -1);
	ASN1_TYPE_free(value);
	free(token);
	return ok ? 0 : csod_fail_ssl(err, "cannot add the timestamp");
}

/* The digest was computed by whoever made the file, so the signature's
 * algorithm is that digest's. Digests asked for must include it (a request
 * may ask for several, for the other formats it holds); asking only for
 * others cannot be honoured, and is refused rather than ignored. */
static int check_asked_digests(const csod_parsed_digest *d, const csod_sign_options *opt,
                               csod_error *err)
{
	if (!opt->digests_given)
		return 0;
	char asked[96] = "";
	for (int i = 0; i < opt->n_digests; i++) {
		if (strcasecmp(opt->digests[i], d->algorithm) == 0)
			return 0;
		size_t used = strlen(asked);
		snprintf(asked + used, sizeof asked - used, "%s%s", i ? ", " : "", opt->digests[i]);
	}
	return csod_fail(err,
	                 "holds a %s digest, which is signed as given: the digest asked for "
	                 "(%s) cannot apply to it; hash the file with that algorithm, or ask "
	                 "for %s",
	                 d->algorithm, asked, d->algorithm);
}

/* Every digest in the file (each line of a list) against the digests
 * asked for. */
static int hash_check_options(int fd, const char *name, const csod_sign_options *opt,
                              csod_error *err)
{
	char buf[CSOD_DIGEST_FILE_MAX + 1];
	size_t len = 0;
	csod_digest_line *lines;
	int n, rc = 0;
	if (read_list(fd, name, buf, &len, &lines, &n, err) < 0)
		return -1;
	csod_parsed_digest d;
	if (n < 2)
		rc = csod_digest_parse(buf, len, name, &d, err) < 0
		         ? -1
		         : check_asked_digests(&d, opt, err);
	csod_error why;
	for (int i = 0; i < n && n > 1 && rc == 0; i++)
		if (check_asked_digests(&lines[i].digest, opt, &why) < 0)
			rc = csod_fail(err, "line %d (%s): %s", lines[i].line, lines[i].digest.file,
			               why.msg);
	free(lines);
	return rc;
}

static int hash_sign(int in_fd, int out_fd, const csod_identity *id, const csod_sign_options *opt,
                     csod_error *err)
{
	csod_parsed_digest d;
	if (csod_timestamp_rfc3161_only(&opt->timestamp, "hash", err) < 0 ||
	    read_digest(in_fd, opt->input_name, &d, err) < 0)
		return -1;
	if (check_asked_digests(&d, opt, err) < 0)
		return -1;
	const EVP_MD *md = csod_digest_by_name(d.algorithm);
	CMS_ContentInfo *cms =
	    CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY);
	CMS_SignerInfo *si = cms ? CMS_add1_signer(cms, id->cert, id->key, md,
	                                           CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP)
	                         : NULL;
	int rc = -1;
	if (!si) {
		csod_fail_ssl(err, "cannot sign a %s digest with this key", d.algorithm);
		goto out;
	}
	for (int i = 0; id->chain && i < sk_X509_num(id->chain); i++)
		CMS_add1_cert(cms, sk_X509_value(id->chain, i));
	/* The digest is given, not computed: set the attribute ourselves and
	 * sign the attributes without CMS_final (which would hash content). */
	if (!CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
	                                 OBJ_nid2obj(NID_pkcs7_data), -1) ||
	    !CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, d.value,
	                                 (int)d.len) ||
	    !CMS_SignerInfo_sign(si)) {
		csod_fail_ssl(err, "cannot sign the digest");
		goto out;
	}
	if (csod_timestamp_wanted(&opt->timestamp) && add_timestamp(si, md, opt, err) < 0)
		goto out;
	unsigned char *der = NULL;
	int len = i2d_CMS_ContentInfo(cms, &der);
	if (len <= 0) {
		csod_fail_ssl(err, "cannot encode the signature");
		goto out;
	}
	rc = write_all(out_fd, der, (size_t)len, err);
	OPENSSL_free(der);
out:
	CMS_ContentInfo_free(cms);
	return rc;
}

static CMS_ContentInfo *read_cms(int fd, csod_error *err)
{
	off_t size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size > (1 << 20)) {
		csod_fail(err, "the signature file has an implausible size");
		return NULL;
	}
	unsigned char *buf = malloc((size_t)size);
	CMS_ContentInfo *cms = NULL;
	if (buf && pread(fd, buf, (size_t)size, 0) == size) {
		const unsigned char *p = buf;
		cms = d2i_CMS_ContentInfo(NULL, &p, (long)size);
	}
	free(buf);
	if (!cms)
		csod_fail_ssl(err, "the signature does not parse as CMS");
	return cms;
}

/* The signer's certificate must chain to a trusted root, using the
 * certificates inside the signature as intermediates. */
static int verify_chain(X509 *signer, STACK_OF(X509) * certs, X509_STORE *trust, csod_error *err)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = ctx && X509_STORE_CTX_init(ctx, trust, signer, certs) &&
	         X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY) && X509_verify_cert(ctx) == 1;
	if (!ok)
		csod_fail(err, "the signing certificate does not chain to a trusted root: %s",
		          ctx ? X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)) : "");
	X509_STORE_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int hash_verify(int in_fd, int out_fd, X509_STORE *trust, csod_error *err)
{
	csod_parsed_digest d;
	if (read_digest(in_fd, NULL, &d, err) < 0)
		return -1;
	CMS_ContentInfo *cms = read_cms(out_fd, err);
	if (!cms)
		return -1;
	int rc = -1;
	STACK_OF(X509) *certs = CMS_get1_certs(cms);
	STACK_OF(CMS_SignerInfo) *infos = CMS_get0_SignerInfos(cms);
	CMS_SignerInfo *si =
	    infos && sk_CMS_SignerInfo_num(infos) == 1 ? sk_CMS_SignerInfo_value(infos, 0) : NULL;
	X509 *signer = NULL;
	if (!si) {
		csod_fail(err, "the signature does not hold exactly one signer");
		goto out;
	}
	if (CMS_set1_signers_certs(cms, certs, 0) < 1) {
		csod_fail(err, "the signer's certificate is not in the signature");
		goto out;
	}
	CMS_SignerInfo_get0_algs(si, NULL, &signer, NULL, NULL);
	if (CMS_SignerInfo_verify(si) != 1) {
		csod_fail_ssl(err, "the signature over the signed attributes is invalid");
		goto out;
	}
	ASN1_OCTET_STRING *md = CMS_signed_get0_data_by_OBJ(
	    si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING);
	if (!md || ASN1_STRING_length(md) != (int)d.len ||
	    memcmp(ASN1_STRING_get0_data(md), d.value, d.len) != 0) {
		csod_fail(err, "the signed message digest is not the submitted %s", d.algorithm);
		goto out;
	}
	rc = verify_chain(signer, certs, trust, err);
out:
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	return rc;
}

const csod_signer csod_signer_hash = {
    .name = "hash",
    .service = "hash",
    .detect = hash_detect,
    .check = hash_check,
    .split = hash_split,
    .check_options = hash_check_options,
    .output_name = hash_output_name,
    .sign = hash_sign,
    .verify = hash_verify,
};
