/* The deep engine for ZIP drops (release.zip): every entry an engine of
 * its own signs in place (PE, MSI, CAB, scripts, JAR, APK) is signed with
 * the request's settings, and the archive is rebuilt around it with the
 * input's entry order, names, times, attributes, extra fields and
 * compression method; every other entry is copied as its compressed
 * bytes. A ZIP inside is signed the same way, CSOD_DEEP_MAX_DEPTH deep. A ZIP has no signature
 * format of its own, so the archive itself is not signed. Inner files live only in nameless scratch
 * files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "../common/fileio.h"
#include "../java/zip_crosscheck.h"
#include "../java/zip_write.h"
#include "../signer.h"
#include "deep_entry.h"

#define COMPARE_CHUNK (64u * 1024u)

/* How deep this thread is in nested archives (0: not in one), and how
 * much all the levels signed so far unpack to: every level together stays
 * within the limit for one file, so nesting cannot multiply it. */
static _Thread_local int depth;
static _Thread_local uint64_t unpacked;

/* Counts z's content against the budget of the whole drop. */
static int enter(const csod_zip *z, int64_t max_size, csod_error *err)
{
	if (depth >= CSOD_DEEP_MAX_DEPTH)
		return csod_fail(err, "a ZIP archive nested more than %d deep (refused)",
		                 CSOD_DEEP_MAX_DEPTH - 1);
	uint64_t limit = max_size > 0 ? (uint64_t)max_size : CSOD_ZIP_MAX_TOTAL_SIZE;
	if (depth == 0)
		unpacked = 0;
	for (size_t i = 0; i < z->n_entries; i++)
		unpacked += z->entries[i].usize;
	if (unpacked > limit)
		return csod_fail(err,
		                 "the archives inside unpack to more than %llu bytes in all: "
		                 "refused as a zip bomb",
		                 (unsigned long long)limit);
	depth++;
	return 0;
}

static int zip_detect(const unsigned char *head, size_t headlen, off_t size)
{
	(void)size;
	return headlen >= 4 &&
	       (memcmp(head, "PK\003\004", 4) == 0 || memcmp(head, "PK\005\006", 4) == 0);
}

/* At intake: the archive and its entries' names, kinds and sizes. */
static int zip_check(int fd, const char *name, csod_error *err)
{
	csod_zip z;
	csod_error why;
	if (csod_deep_open(&z, fd, 0, &why) < 0)
		return csod_fail(err, "%s: %s", name, why.msg);
	csod_zip_close(&z);
	return 0;
}

static void tell(const csod_sign_options *opt, const csod_zip_entry *e, const csod_signer *s)
{
	if (!opt->timestamp.note)
		return;
	char msg[400];
	snprintf(msg, sizeof msg, "inner file '%.200s' signed (%s)", e->name, s->name);
	opt->timestamp.note(opt->timestamp.note_arg, LOG_INFO, msg);
}

/* Signs the content in fd with s into a new entry like e. */
static int sign_entry(csod_zip_out *o, const csod_zip *z, const csod_zip_entry *e,
                      const csod_signer *s, int fd, const csod_identity *id,
                      const csod_sign_options *opt, csod_error *err)
{
	csod_sign_options inner = *opt;
	const char *base = strrchr(e->name, '/');
	inner.input_name = base ? base + 1 : e->name;
	inner.progress = NULL; /* it would count the inner file's bytes as the drop's */
	csod_error why;
	int signed_fd = csod_anon_file(opt->tmp_dir, &why), scratch = -1, rc = -1;
	struct stat st;
	if (signed_fd < 0 || (scratch = csod_anon_file(opt->tmp_dir, &why)) < 0)
		csod_fail(err, "entry '%.200s': %s", e->name, why.msg);
	else if (s->sign(fd, signed_fd, id, &inner, &why) < 0)
		csod_fail(err, "entry '%.200s': %s", e->name, why.msg);
	else if (fstat(signed_fd, &st) < 0)
		csod_fail_errno(err, "entry '%.200s': cannot stat its signed copy", e->name);
	else
		rc = csod_zip_out_replace(o, z, e, signed_fd, (uint64_t)st.st_size, scratch, err);
	if (rc == 0)
		tell(opt, e, s);
	if (signed_fd >= 0)
		close(signed_fd);
	if (scratch >= 0)
		close(scratch);
	return rc;
}

static int write_entries(const csod_zip *z, csod_zip_out *o, const csod_identity *id,
                         const csod_sign_options *opt, csod_error *err)
{
	for (size_t i = 0; i < z->n_entries; i++) {
		const csod_zip_entry *e = &z->entries[i];
		int fd = csod_deep_extract(z, e, opt->tmp_dir, err);
		if (fd < 0)
			return -1;
		const csod_signer *s = csod_deep_signer_for(e, fd, err);
		int rc = s             ? sign_entry(o, z, e, s, fd, id, opt, err)
		         : err->msg[0] ? -1
		                       : csod_zip_out_copy(o, z, e, 0, err);
		close(fd);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int zip_sign(int in_fd, int out_fd, const csod_identity *id, const csod_sign_options *opt,
                    csod_error *err)
{
	csod_zip z;
	if (csod_deep_open(&z, in_fd, opt->max_size, err) < 0)
		return -1;
	int rc = 0;
	if (opt->max_size > 0 && z.size > (uint64_t)opt->max_size)
		rc = csod_fail(err, "archive is larger than the limit of %lld bytes",
		               (long long)opt->max_size);
	int entered = rc == 0 && enter(&z, opt->max_size, err) == 0;
	if (rc == 0 && !entered)
		rc = -1;
	csod_zip_out o;
	csod_zip_out_init(&o, out_fd);
	csod_buf eocd = {0};
	if (rc == 0)
		rc = write_entries(&z, &o, id, opt, err);
	if (entered)
		depth--;
	uint64_t cd_offset = o.pos;
	if (rc == 0)
		rc = csod_zip_out_write(&o, o.cd.p, o.cd.len, err);
	if (rc == 0) {
		csod_zip_out_eocd(&o, cd_offset, z.comment, z.comment_len, &eocd);
		rc = eocd.oom ? csod_fail(err, "out of memory")
		              : csod_zip_out_write(&o, eocd.p, eocd.len, err);
	}
	csod_buf_free(&eocd);
	csod_zip_out_free(&o);
	csod_zip_close(&z);
	return rc;
}

/* The same compressed bytes at both entries' data. */
static int same_bytes(const csod_zip *a, const csod_zip_entry *x, const csod_zip *b,
                      const csod_zip_entry *y, csod_error *err)
{
	if (x->csize != y->csize || x->usize != y->usize || x->crc != y->crc)
		return csod_fail(err, "entry '%.200s' was copied with other content", x->name);
	unsigned char *p = malloc(2 * COMPARE_CHUNK), *q = p + COMPARE_CHUNK;
	int rc = p ? 0 : csod_fail(err, "out of memory");
	for (uint64_t off = 0; rc == 0 && off < x->csize;) {
		size_t n =
		    x->csize - off < COMPARE_CHUNK ? (size_t)(x->csize - off) : COMPARE_CHUNK;
		if (csod_zip_pread(a, p, n, x->data_offset + off, err) < 0 ||
		    csod_zip_pread(b, q, n, y->data_offset + off, err) < 0)
			rc = -1;
		else if (memcmp(p, q, n) != 0)
			rc = csod_fail(err, "entry '%.200s' was copied with other bytes", x->name);
		off += n;
	}
	free(p);
	return rc;
}

/* Output entry y stands where input entry x stood, as x did. */
static int same_place(const csod_zip_entry *x, const csod_zip_entry *y, csod_error *err)
{
	if (strcmp(x->name, y->name) != 0)
		return csod_fail(err, "signed archive has '%.200s' where the input has '%.200s'",
		                 y->name, x->name);
	if (x->method != y->method || x->mtime != y->mtime || x->mdate != y->mdate ||
	    x->external_attr != y->external_attr)
		return csod_fail(err, "entry '%.200s' lost its method, time or attributes",
		                 x->name);
	return 0;
}

/* Input entry x against output entry y: a signed inner file checked by
 * its own engine, anything else the same bytes. */
static int check_entry(const csod_zip *in, const csod_zip_entry *x, const csod_zip *out,
                       const csod_zip_entry *y, X509_STORE *trust, csod_error *err)
{
	if (same_place(x, y, err) < 0)
		return -1;
	int fd = csod_deep_extract(in, x, NULL, err), ofd = -1, rc = -1;
	if (fd < 0)
		return -1;
	const csod_signer *s = csod_deep_signer_for(x, fd, err);
	csod_error why;
	if (!s && !err->msg[0])
		rc = same_bytes(in, x, out, y, err);
	else if (s && (ofd = csod_deep_extract(out, y, NULL, err)) >= 0)
		rc = s->verify(fd, ofd, trust, &why) < 0
		         ? csod_fail(err, "inner file '%.200s': %s", x->name, why.msg)
		         : 0;
	close(fd);
	if (ofd >= 0)
		close(ofd);
	return rc;
}

static int zip_verify(int in_fd, int out_fd, X509_STORE *trust, csod_error *err)
{
	csod_zip in, out;
	if (csod_deep_open(&in, in_fd, 0, err) < 0)
		return -1;
	if (csod_zip_open(&out, out_fd, "signed archive", err) < 0) {
		csod_zip_close(&in);
		return -1;
	}
	int rc = 0, entered = depth < CSOD_DEEP_MAX_DEPTH;
	if (entered)
		depth++;
	else
		rc = csod_fail(err, "a ZIP archive nested more than %d deep (refused)",
		               CSOD_DEEP_MAX_DEPTH - 1);
	if (rc == 0 && in.n_entries != out.n_entries)
		rc = csod_fail(err, "signed archive has %zu entries where the input has %zu",
		               out.n_entries, in.n_entries);
	for (size_t i = 0; rc == 0 && i < in.n_entries; i++)
		rc = check_entry(&in, &in.entries[i], &out, &out.entries[i], trust, err);
	if (entered)
		depth--;
	if (rc == 0)
		rc = csod_zip_crosscheck(&out, err);
	csod_zip_close(&in);
	csod_zip_close(&out);
	return rc;
}

const csod_signer csod_signer_zip = {
    .name = "zip",
    .service = "deep",
    .detect = zip_detect,
    .output_name = NULL,
    .sign = zip_sign,
    .check = zip_check,
    .verify = zip_verify,
};
