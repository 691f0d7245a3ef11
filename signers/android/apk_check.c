/* The self-check of a signed APK: the daemon publishes nothing that fails
 * it, so it must be a real, independent check of the file as written, yet
 * it need not do its work in the slowest way.
 *
 * What makes it honest: nothing from the signing pass is trusted or
 * reused. The output is parsed afresh, by our reader and by libzip; its
 * entries must be the input's (names, sizes, CRCs, methods) and aligned;
 * the v2/v3 content digest is recomputed from the output's bytes on disk
 * and must be the one both signers signed; every v1-signed entry is
 * inflated from those same bytes, its CRC-32 checked and its digest
 * compared with the output's own manifest; then the .SF digests of that
 * manifest, the PKCS#7 signature over the .SF and the v2/v3 signatures are
 * checked, and every signer's certificate must chain to the trust store.
 *
 * What makes it cheaper than verifying each scheme on its own: the output
 * is read once. The v2/v3 pass reads the entries section in order, and
 * each piece it reads is also handed to the v1 check of the entry it
 * belongs to (csod_apk_seen), instead of a second pass that re-reads and
 * re-inflates every entry; the v2/v3 chunks are hashed on a second thread
 * meanwhile (apk_digest.h). The digests themselves are all computed: their
 * cost is the price of an independent check. */
#include "apk_check.h"

#include <stdlib.h>
#include <string.h>

#include "../java/repack.h"
#include "../java/v1.h"
#include "../java/zip_read.h"
#include "../java/zip_unpack.h"
#include "apk_block.h"

/* Stored entries' data must be 4-byte aligned (4096 for .so libraries). */
static int check_alignment(const csod_zip *z, csod_error *err)
{
	for (size_t i = 0; i < z->n_entries; i++) {
		const csod_zip_entry *e = &z->entries[i];
		unsigned align = csod_repack_alignment(e->name, 1);
		if (e->method == 0 && e->data_offset % align)
			return csod_fail(err, "stored entry '%.200s' is not %u-byte aligned",
			                 e->name, align);
	}
	return 0;
}

/* The v1 entry checks, fed by the v2/v3 pass over the entries section. */
struct v1_pass {
	csod_v1_checker ch;
	const csod_zip_entry **todo; /* entries to check, by data offset */
	size_t n, next;
	int open; /* todo[next] started */
	csod_zip_unpack u;
};

static int by_data_offset(const void *a, const void *b)
{
	const csod_zip_entry *x = *(const csod_zip_entry *const *)a;
	const csod_zip_entry *y = *(const csod_zip_entry *const *)b;
	return x->data_offset < y->data_offset ? -1 : x->data_offset > y->data_offset;
}

/* The piece [off, off + len) of the file: feeds the entries it holds. */
static int v1_seen(void *ctx, uint64_t off, const unsigned char *data, size_t len, csod_error *err)
{
	struct v1_pass *p = ctx;
	uint64_t end = off + len;
	while (p->next < p->n) {
		const csod_zip_entry *e = p->todo[p->next];
		uint64_t from = e->data_offset, to = e->data_offset + e->csize;
		if (from > end || (from == end && e->csize > 0))
			return 0; /* in a later piece */
		if (!p->open) {
			if (csod_v1_checker_start(&p->ch, e, err) < 0 ||
			    csod_zip_unpack_begin(&p->u, e, csod_mdset_feed, &p->ch.set, err) < 0)
				return -1;
			p->open = 1;
		}
		uint64_t a = from > off ? from : off, b = to < end ? to : end;
		if (b > a &&
		    csod_zip_unpack_feed(&p->u, data + (a - off), (size_t)(b - a), err) < 0)
			return -1;
		if (to > end)
			return 0; /* continues in the next piece */
		p->open = 0;
		if (csod_zip_unpack_end(&p->u, err) < 0 || csod_v1_checker_end(&p->ch, err) < 0)
			return -1;
		p->next++;
	}
	return 0;
}

/* v2/v3 and, when the APK has a v1 signature, v1, in one read. */
static int check_signatures(const csod_zip *z, X509_STORE *trust, csod_error *err)
{
	int has_sf = 0;
	for (size_t i = 0; i < z->n_entries; i++) {
		const char *n = z->entries[i].name, *dot = strrchr(n, '.');
		has_sf |= csod_v1_signature_related(n) && dot && strcmp(dot, ".SF") == 0;
	}
	/* v1 is there when minSdkVersion asked for it: then it must hold. */
	if (!has_sf)
		return csod_apk_verify_block(z, trust, NULL, err);
	struct v1_pass p;
	memset(&p, 0, sizeof p);
	if (csod_v1_checker_open(&p.ch, z, err) < 0)
		return -1;
	int rc = 0;
	if (!(p.todo = malloc((z->n_entries + 1) * sizeof *p.todo)))
		rc = csod_fail(err, "out of memory");
	for (size_t i = 0; rc == 0 && i < z->n_entries; i++)
		if (csod_v1_checker_needs(&z->entries[i]))
			p.todo[p.n++] = &z->entries[i];
	if (rc == 0) {
		qsort(p.todo, p.n, sizeof *p.todo, by_data_offset);
		csod_apk_seen seen = {v1_seen, &p};
		rc = csod_apk_verify_block(z, trust, &seen, err);
	}
	if (rc == 0 && p.next != p.n)
		rc = csod_fail(err, "entry '%.200s' lies outside the entries section",
		               p.todo[p.next]->name);
	if (rc == 0)
		rc = csod_v1_checker_signers(&p.ch, z, trust, 1, err);
	if (p.open)
		csod_zip_unpack_free(&p.u);
	free(p.todo);
	csod_v1_checker_close(&p.ch);
	return rc;
}

int csod_apk_self_check(int in_fd, int out_fd, X509_STORE *trust, csod_error *err)
{
	csod_zip out;
	if (csod_repack_open_signed(in_fd, out_fd, "APK", &out, err) < 0)
		return -1;
	int rc = check_alignment(&out, err);
	if (rc == 0)
		rc = check_signatures(&out, trust, err);
	csod_zip_close(&out);
	return rc;
}
