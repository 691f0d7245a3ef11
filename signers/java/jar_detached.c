/* Detached JAR signatures (csod-sign --extract-signature/--attach-signature
 * for JAR, WAR, EAR and app bundles). A JAR signature is three files, not
 * one PKCS#7: META-INF/MANIFEST.MF (every entry's digest), the signer's
 * .SF and its block (.RSA, .EC or .DSA). The detached form is a small ZIP
 * of exactly those three, stored, dated as the signed archive dates them,
 * so that attaching re-packs the unsigned archive into the signed one byte
 * for byte (jarsigner has no detached form to follow). One signer only. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../common/fileio.h"
#include "jar.h"
#include "zip_write.h"

#define MANIFEST_NAME "META-INF/MANIFEST.MF"
#define MAX_PART      (16u << 20) /* a manifest of a very large archive */

enum { PART_MANIFEST, PART_SF, PART_BLOCK, N_PARTS };

/* Which of the three an entry is, or -1 for one that is none. */
static int part_of(const char *name)
{
	if (strcasecmp(name, MANIFEST_NAME) == 0)
		return PART_MANIFEST;
	const char *dot = strrchr(name, '.');
	if (!csod_v1_signature_related(name) || !dot)
		return -1;
	if (strcasecmp(dot, ".SF") == 0)
		return PART_SF;
	if (strcasecmp(dot, ".RSA") == 0 || strcasecmp(dot, ".EC") == 0 ||
	    strcasecmp(dot, ".DSA") == 0)
		return PART_BLOCK;
	return -1;
}

/* The three signing entries of z (their indexes); fails when z has not
 * exactly one signer's, or other signature-related files. */
static int find_parts(const csod_zip *z, long idx[N_PARTS], csod_error *err)
{
	static const char *const what[N_PARTS] = {MANIFEST_NAME, "a .SF file",
	                                          "a signature block (.RSA, .EC, .DSA)"};
	for (int k = 0; k < N_PARTS; k++)
		idx[k] = -1;
	for (size_t i = 0; i < z->n_entries; i++) {
		const char *name = z->entries[i].name;
		if (!csod_v1_signature_related(name))
			continue;
		int k = part_of(name);
		if (k < 0)
			return csod_fail(err,
			                 "%.200s: a signature file a detached JAR signature "
			                 "does not carry",
			                 name);
		if (idx[k] >= 0)
			return csod_fail(err,
			                 "more than one signer (%.200s and %.200s): a detached "
			                 "JAR signature carries one",
			                 z->entries[idx[k]].name, name);
		idx[k] = (long)i;
	}
	for (int k = 0; k < N_PARTS; k++)
		if (idx[k] < 0)
			return csod_fail(err, "no %s: not a signed archive", what[k]);
	return 0;
}

/* The whole content of a memory file, into *out (malloc'ed). */
static int slurp(int fd, size_t len, unsigned char **out, csod_error *err)
{
	if (!(*out = malloc(len ? len : 1)))
		return csod_fail(err, "out of memory");
	if (pread(fd, *out, len, 0) != (ssize_t)len) {
		free(*out);
		*out = NULL;
		return csod_fail_errno(err, "cannot read the signature back");
	}
	return 0;
}

int csod_jar_extract(int fd, unsigned char **sig, size_t *len, csod_error *err)
{
	csod_zip z;
	if (csod_zip_open(&z, fd, "archive", err) < 0)
		return -1;
	long idx[N_PARTS];
	unsigned char *data[N_PARTS] = {NULL};
	size_t n[N_PARTS] = {0};
	int out = -1, rc = find_parts(&z, idx, err);
	for (int k = 0; rc == 0 && k < N_PARTS; k++)
		rc = csod_zip_read_small(&z, &z.entries[idx[k]], MAX_PART, &data[k], &n[k], err);
	if (rc == 0 && (out = memfd_create("csod-jar-sig", MFD_CLOEXEC)) < 0)
		rc = csod_fail_errno(err, "cannot make a memory file");
	csod_zip_out o;
	csod_zip_out_init(&o, out);
	/* Dated as the signed archive's manifest: attaching dates them so. */
	if (rc == 0) {
		o.dos_time = z.entries[idx[PART_MANIFEST]].mtime;
		o.dos_date = z.entries[idx[PART_MANIFEST]].mdate;
	}
	for (int k = 0; rc == 0 && k < N_PARTS; k++)
		rc = csod_zip_out_add(&o, z.entries[idx[k]].name, data[k], n[k], 0, err);
	csod_buf eocd = {0};
	uint64_t cd_at = o.pos;
	if (rc == 0)
		rc = csod_zip_out_write(&o, o.cd.p, o.cd.len, err);
	if (rc == 0) {
		csod_zip_out_eocd(&o, cd_at, NULL, 0, &eocd);
		rc = eocd.oom ? csod_fail(err, "out of memory")
		              : csod_zip_out_write(&o, eocd.p, eocd.len, err);
	}
	if (rc == 0) {
		*len = (size_t)o.pos;
		rc = slurp(out, *len, sig, err);
	}
	csod_buf_free(&eocd);
	csod_zip_out_free(&o);
	for (int k = 0; k < N_PARTS; k++)
		free(data[k]);
	if (out >= 0)
		close(out);
	csod_zip_close(&z);
	return rc;
}

/* The detached signature's three files, read into v1 (names and bytes);
 * *dos their date. */
static int read_detached(const unsigned char *sig, size_t len, csod_v1_result *v1, uint16_t dos[2],
                         csod_error *err)
{
	int fd = memfd_create("csod-jar-sig", MFD_CLOEXEC);
	if (fd < 0)
		return csod_fail_errno(err, "cannot make a memory file");
	csod_zip z;
	csod_error why;
	if (csod_pwrite_all(fd, sig, len, 0, err) < 0) {
		close(fd);
		return -1;
	}
	if (csod_zip_open(&z, fd, "signature", &why) < 0) {
		close(fd);
		return csod_fail(err, "not a detached JAR signature: %s", why.msg);
	}
	long idx[N_PARTS];
	int rc = find_parts(&z, idx, &why) < 0 || z.n_entries != N_PARTS
	             ? csod_fail(err, "not a detached JAR signature: %s",
	                         z.n_entries != N_PARTS ? "it must hold exactly the manifest, "
	                                                  "a .SF file and its block"
	                                                : why.msg)
	             : 0;
	csod_buf *buf[N_PARTS] = {&v1->manifest, &v1->sf, &v1->block};
	for (int k = 0; rc == 0 && k < N_PARTS; k++) {
		unsigned char *d = NULL;
		size_t n = 0;
		rc = csod_zip_read_small(&z, &z.entries[idx[k]], MAX_PART, &d, &n, err);
		if (rc == 0)
			csod_buf_add(buf[k], d, n);
		free(d);
	}
	if (rc == 0) {
		snprintf(v1->sf_name, sizeof v1->sf_name, "%s", z.entries[idx[PART_SF]].name);
		snprintf(v1->block_name, sizeof v1->block_name, "%s",
		         z.entries[idx[PART_BLOCK]].name);
		dos[0] = z.entries[idx[PART_MANIFEST]].mtime;
		dos[1] = z.entries[idx[PART_MANIFEST]].mdate;
		if (v1->manifest.oom || v1->sf.oom || v1->block.oom)
			rc = csod_fail(err, "out of memory");
	}
	csod_zip_close(&z);
	close(fd);
	return rc;
}

/* As the jar engine signs without appending, with the signing files given:
 * every signature file of the input is left out. */
int csod_jar_attach(int in_fd, int out_fd, const unsigned char *sig, size_t len, csod_error *err)
{
	csod_v1_result v1;
	memset(&v1, 0, sizeof v1);
	uint16_t dos[2];
	csod_zip z;
	if (read_detached(sig, len, &v1, dos, err) < 0) {
		csod_v1_result_free(&v1);
		return -1;
	}
	if (csod_zip_open(&z, in_fd, "archive", err) < 0) {
		csod_v1_result_free(&v1);
		return -1;
	}
	int rc = z.has_apk_sig_block
	             ? csod_fail(err, "archive carries an APK signing block: sign it as an APK")
	             : 0;
	if (rc == 0 && !(v1.drop = calloc(z.n_entries ? z.n_entries : 1, 1)))
		rc = csod_fail(err, "out of memory");
	for (size_t i = 0; rc == 0 && i < z.n_entries; i++)
		v1.drop[i] = (unsigned char)csod_v1_signature_related(z.entries[i].name);
	if (rc == 0)
		rc = csod_jar_write_archive(&z, &v1, v1.drop, dos, out_fd, err);
	csod_v1_result_free(&v1);
	csod_zip_close(&z);
	return rc;
}
