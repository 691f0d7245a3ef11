/* Which engine signs which file. */
#include "signer.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../lib/text.h"
#include "authenticode/cat_format.h"
#include "common/fileio.h"
#include "deep/deep_container.h"

extern const csod_signer csod_signer_hash;
extern const csod_signer csod_signer_pe;
extern const csod_signer csod_signer_msi;
extern const csod_signer csod_signer_cab;
extern const csod_signer csod_signer_cat;
extern const csod_signer csod_signer_jar;
extern const csod_signer csod_signer_apk;
extern const csod_signer csod_signer_aab;
extern const csod_signer csod_signer_powershell;
extern const csod_signer csod_signer_powershell_xml;
extern const csod_signer csod_signer_vbscript;
extern const csod_signer csod_signer_jscript;
extern const csod_signer csod_signer_wsf;
extern const csod_signer csod_signer_appx;
extern const csod_signer csod_signer_zip;

const csod_signer *const csod_signers[] = {
    &csod_signer_hash,       &csod_signer_pe,
    &csod_signer_msi,        &csod_signer_cab,
    &csod_signer_cat,        &csod_signer_jar,
    &csod_signer_apk,        &csod_signer_aab,
    &csod_signer_powershell, &csod_signer_powershell_xml,
    &csod_signer_vbscript,   &csod_signer_jscript,
    &csod_signer_wsf,        &csod_signer_appx,
    &csod_signer_zip,        NULL,
};

static const struct {
	const char *ext;
	const char *service;
} extension_services[] = {
    {"exe", "authenticode"},
    {"dll", "authenticode"},
    {"ocx", "authenticode"},
    {"sys", "authenticode"},
    {"efi", "authenticode"},
    {"scr", "authenticode"},
    {"cpl", "authenticode"},
    {"drv", "authenticode"},
    {"msi", "authenticode"},
    {"cab", "authenticode"},
    {"cat", "authenticode"},
    {"jar", "java"},
    {"war", "java"},
    {"ear", "java"},
    {"apk", "android"},
    {"aab", "android"},
    {"sha1", "hash"},
    {"sha256", "hash"},
    {"sha384", "hash"},
    {"sha512", "hash"},
    {"md5", "hash"},
    {"txt", "hash"},
    {"sha", "hash"},
    {"ax", "authenticode"},
    {"acm", "authenticode"},
    {"tlb", "authenticode"},
    {"com", "authenticode"},
    {"ds", "authenticode"},
    {"msstyles", "authenticode"},
    {"vxd", "authenticode"},
    {"mui", "authenticode"},
    {"winmd", "authenticode"},
    {"ps1", "authenticode"},
    {"psm1", "authenticode"},
    {"psd1", "authenticode"},
    {"ps1xml", "authenticode"},
    {"vbs", "authenticode"},
    {"js", "authenticode"},
    {"wsf", "authenticode"},
    {"msix", "authenticode"},
    {"appx", "authenticode"},
    {"msixbundle", "authenticode"},
    {"appxbundle", "authenticode"},
    {"zip", "deep"},
};

/* A PE file by content: "MZ", and "PE\0\0" where e_lfanew points. Taken
 * for names whose extension says nothing (".efi.signed", wine's ".dll16"). */
static int looks_like_pe(int fd, const unsigned char *head, size_t n)
{
	if (n < 0x40 || head[0] != 'M' || head[1] != 'Z')
		return 0;
	uint32_t e_lfanew = (uint32_t)head[0x3c] | (uint32_t)head[0x3d] << 8 |
	                    (uint32_t)head[0x3e] << 16 | (uint32_t)head[0x3f] << 24;
	unsigned char sig[4];
	return e_lfanew >= 0x40 && pread(fd, sig, sizeof sig, (off_t)e_lfanew) == sizeof sig &&
	       memcmp(sig, "PE\0\0", 4) == 0;
}

/* The service a file's content implies when its name implies none: only
 * the Authenticode containers (and catalogs, by their DER's opening OIDs)
 * say what they are unambiguously enough. */
static const char *service_by_content(int fd, const unsigned char *head, size_t n)
{
	static const unsigned char cfb[8] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};
	if (looks_like_pe(fd, head, n) || (n >= 4 && memcmp(head, "MSCF", 4) == 0) ||
	    (n >= sizeof cfb && memcmp(head, cfb, sizeof cfb) == 0) || csod_cat_sniff(head, n))
		return "authenticode";
	return NULL;
}

/* What a service expects, for the message when a file is not that. */
static const char *expected_content(const char *service)
{
	if (strcmp(service, "authenticode") == 0)
		return "PE, MSI or CAB file, or security catalog";
	if (strcmp(service, "java") == 0 || strcmp(service, "android") == 0 ||
	    strcmp(service, "deep") == 0)
		return "ZIP archive";
	return "file holding one hexadecimal digest";
}

/* The name's extension (after its last dot), or NULL. */
static const char *extension_of(const char *filename)
{
	const char *dot = strrchr(filename, '.');
	return dot && dot != filename ? dot + 1 : NULL;
}

/* The engine of service that takes files by this name's extension. */
static const csod_signer *signer_by_name(const char *service, const char *filename)
{
	const char *ext = extension_of(filename);
	for (int i = 0; ext && csod_signers[i]; i++) {
		const csod_signer *s = csod_signers[i];
		for (int k = 0; s->extensions && s->extensions[k]; k++)
			if (strcmp(s->service, service) == 0 &&
			    strcasecmp(ext, s->extensions[k]) == 0)
				return s;
	}
	return NULL;
}

const char *csod_service_for_name(const char *filename)
{
	const char *ext = extension_of(filename);
	if (!ext)
		return NULL;
	for (size_t i = 0; i < sizeof extension_services / sizeof extension_services[0]; i++)
		if (strcasecmp(ext, extension_services[i].ext) == 0)
			return extension_services[i].service;
	return NULL;
}

const char *csod_service_for_content(int fd)
{
	unsigned char head[4096];
	ssize_t n = pread(fd, head, sizeof head, 0);
	return n > 0 ? service_by_content(fd, head, (size_t)n) : NULL;
}

const csod_signer *csod_signer_for(const char *service, const char *filename, int fd,
                                   csod_error *err)
{
	unsigned char head[4096];
	ssize_t n = pread(fd, head, sizeof head, 0);
	if (n < 0)
		return csod_fail_errno(err, "%s: cannot read", filename), NULL;
	if (!service || !*service || strcmp(service, "auto") == 0) {
		service = csod_service_for_name(filename);
		if (!service)
			service = service_by_content(fd, head, (size_t)n);
		if (!service)
			return csod_fail(err,
			                 "%s: unknown file type (no signing service for its "
			                 "extension, and not a PE, MSI, CAB or catalog file)",
			                 filename),
			       NULL;
	}
	if (n == 0)
		return csod_fail(err, "%s: empty file", filename), NULL;
	off_t size = lseek(fd, 0, SEEK_END);
	const csod_signer *by_name = signer_by_name(service, filename);
	/* Its check() says precisely why a file so named is not one. */
	if (by_name)
		return by_name->check && by_name->check(fd, filename, err) < 0 ? NULL : by_name;
	int known_service = 0;
	for (int i = 0; csod_signers[i]; i++) {
		const csod_signer *s = csod_signers[i];
		if (strcmp(s->service, service) != 0)
			continue;
		known_service = 1;
		if (s->extensions) /* taken by name only */
			continue;
		if (!s->detect(head, (size_t)n, size))
			continue;
		if (s->check && s->check(fd, filename, err) < 0)
			return NULL;
		return s;
	}
	if (!known_service)
		return csod_fail(err, "%s: unknown signing service '%s'", filename, service), NULL;
	return csod_fail(err, "%s: not a file the %s service can sign (not a %s)", filename,
	                 service, expected_content(service)),
	       NULL;
}

const EVP_MD *csod_digest_by_name(const char *name)
{
	static const char *const allowed[] = {"md5", "sha1", "sha256", "sha384", "sha512"};
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		if (strcasecmp(name, allowed[i]) == 0)
			return EVP_get_digestbyname(allowed[i]);
	return NULL;
}

int csod_output_name(const csod_signer *s, const char *in_name, char *out, size_t outlen,
                     csod_error *err)
{
	char full[NAME_MAX + 64];
	int n = s && s->output_name ? s->output_name(in_name, full, sizeof full)
	                            : snprintf(full, sizeof full, "%s", in_name);
	size_t in_len = strlen(in_name);
	if (n >= 0 && (size_t)n <= NAME_MAX && (size_t)n < outlen) {
		memcpy(out, full, (size_t)n + 1);
		return 0;
	}
	char shown[CSOD_SHOWN_MAX];
	csod_escape_to(in_name, shown, sizeof shown);
	if (n > 0 && (size_t)n < sizeof full && (size_t)n > in_len &&
	    strncmp(full, in_name, in_len) == 0)
		return csod_fail(err,
		                 "%s: file name is %zu bytes; with %s the signed output's name "
		                 "would be over %d bytes",
		                 shown, in_len, full + in_len, NAME_MAX);
	return csod_fail(err, "%s: the signed output's name would be over %d bytes", shown,
	                 NAME_MAX);
}

int csod_sign_checked(const csod_signer *s, int in_fd, int out_fd, const csod_identity *id,
                      const csod_sign_options *opt, X509_STORE *trust, csod_error *err)
{
	if (opt->deep)
		return csod_deep_sign_checked(s, in_fd, out_fd, id, opt, trust, err);
	if (trust && s->sign_checked)
		return s->sign_checked(in_fd, out_fd, id, opt, trust, err);
	if (s->sign(in_fd, out_fd, id, opt, err) < 0)
		return CSOD_SIGN_FAILED;
	/* Start writing the output to disk while it is read back: the fsync
	 * before publishing then has little left to do. */
	csod_write_back_all(out_fd);
	if (trust && s->verify(in_fd, out_fd, trust, err) < 0)
		return CSOD_CHECK_FAILED;
	return 0;
}

void csod_parts_free(csod_part *parts, int n)
{
	for (int i = 0; parts && i < n; i++)
		if (parts[i].fd >= 0)
			close(parts[i].fd);
	free(parts);
}
