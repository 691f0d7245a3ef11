/* The files inside an MSI's embedded cabinets, signed before the MSI; see
 * deep_msi.h. */
#include "deep_msi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../authenticode/cfb.h"
#include "../common/fileio.h"
#include "deep_cab.h"
#include "deep_list.h"
#include "deep_msi_tables.h"

#define MAX_CABS 16

typedef struct sink {
	int fd;
	uint64_t at;
	unsigned char head[4];
	int stop_at_head;
	EVP_MD_CTX *md;
} sink;

static int take(void *ctx, const unsigned char *p, size_t n, csod_error *err)
{
	sink *s = ctx;
	for (size_t i = 0; s->at + i < 4 && i < n; i++)
		s->head[s->at + i] = p[i];
	if (s->fd >= 0 && csod_pwrite_all(s->fd, p, n, (off_t)s->at, err) < 0)
		return -1;
	if (s->md)
		EVP_DigestUpdate(s->md, p, n);
	s->at += n;
	return s->stop_at_head && s->at >= 4 ? -1 : 0;
}

/* The streams of the package's root that are cabinets. */
static int find_cabs(const csod_cfb *c, uint32_t *ids, size_t *n, csod_error *err)
{
	uint32_t nk;
	const uint32_t *kids = csod_cfb_children(c, 0, &nk);
	*n = 0;
	for (uint32_t i = 0; i < nk; i++) {
		const csod_cfb_entry *e = &c->dir[kids[i]];
		if (e->type != CFB_TYPE_STREAM || e->size < 4)
			continue;
		sink s = {-1, 0, {0}, 1, NULL};
		csod_error why;
		csod_cfb_read_stream(c, kids[i], take, &s, &why);
		if (s.at < 4 || memcmp(s.head, "MSCF", 4) != 0)
			continue;
		if (*n == MAX_CABS)
			return csod_fail(err, "the MSI holds more than %d cabinets", MAX_CABS);
		ids[(*n)++] = kids[i];
	}
	return *n ? 0
	          : csod_fail(err, "the MSI has no embedded cabinet (its files lie beside "
	                           "it): nothing inside to sign");
}

/* Stream id in a new scratch file. */
static int dump(const csod_cfb *c, uint32_t id, const char *tmp_dir, csod_error *err)
{
	sink s = {csod_anon_file(tmp_dir, err), 0, {0}, 0, NULL};
	if (s.fd >= 0 && csod_cfb_read_stream(c, id, take, &s, err) < 0) {
		close(s.fd);
		return -1;
	}
	return s.fd;
}

typedef struct fixes {
	csod_msi_file_fix *f;
	size_t n, cap;
	int failed;
} fixes;

static int unhex(const char *h, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return 0;
}

/* A signed file of a rebuilt cabinet: its new size and MD5 for the tables. */
static void note_fix(void *ctx, const csod_deep_inner *in)
{
	fixes *x = ctx;
	if (!in->engine)
		return;
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 16;
		csod_msi_file_fix *f = realloc(x->f, cap * sizeof *f);
		if (!f) {
			x->failed = 1;
			return;
		}
		x->f = f;
		x->cap = cap;
	}
	csod_msi_file_fix *f = &x->f[x->n];
	f->key = strdup(in->name);
	f->size = (uint32_t)in->size;
	if (!f->key || unhex(in->md5, f->md5, 16) < 0)
		x->failed = 1;
	x->n++;
}

static void free_fixes(fixes *x)
{
	for (size_t i = 0; i < x->n; i++)
		free((char *)x->f[i].key);
	free(x->f);
}

/* The fixes the signed files of the cabinet in fd call for. */
static int collect(int fd, const char *tmp_dir, fixes *x, csod_error *err)
{
	if (csod_deep_list(fd, 0, tmp_dir, note_fix, x, err) < 0)
		return -1;
	return x->failed ? csod_fail(err, "out of memory") : 0;
}

int csod_deep_msi_rebuild(int in_fd, int out_fd, const csod_identity *id,
                          const csod_sign_options *opt, csod_error *err)
{
	csod_cfb c;
	if (csod_cfb_open(&c, in_fd, err) < 0)
		return -1;
	uint32_t cabs[MAX_CABS], drop[MAX_CABS + 2];
	int signed_fd[MAX_CABS];
	csod_cfb_new_stream add[MAX_CABS + 2];
	csod_msi_table_out tabs[2];
	size_t n = 0, n_tabs = 0, k = 0;
	fixes x = {0};
	int rc = find_cabs(&c, cabs, &n, err);
	for (; rc == 0 && k < n; k++) {
		int raw = dump(&c, cabs[k], opt->tmp_dir, err);
		signed_fd[k] = raw < 0 ? -1 : csod_anon_file(opt->tmp_dir, err);
		struct stat st;
		if (signed_fd[k] < 0 ||
		    csod_deep_cab_rebuild(raw, signed_fd[k], id, opt, err) < 0 ||
		    collect(signed_fd[k], opt->tmp_dir, &x, err) < 0 ||
		    fstat(signed_fd[k], &st) < 0)
			rc = -1;
		else
			add[k] = (csod_cfb_new_stream){c.dir[cabs[k]].raw,
			                               c.dir[cabs[k]].name_len,
			                               NULL,
			                               (size_t)st.st_size,
			                               1,
			                               signed_fd[k]};
		drop[k] = cabs[k];
		if (raw >= 0)
			close(raw);
		if (rc < 0) {
			if (signed_fd[k] >= 0)
				close(signed_fd[k]);
			break;
		}
	}
	if (rc == 0)
		rc = csod_msi_fix_tables(&c, x.f, x.n, tabs, &n_tabs, err);
	for (size_t t = 0; rc == 0 && t < n_tabs; t++) {
		drop[n + t] = tabs[t].id;
		add[n + t] = (csod_cfb_new_stream){
		    tabs[t].name, tabs[t].name_len, tabs[t].data, tabs[t].len, 0, -1};
	}
	if (rc == 0)
		rc = csod_cfb_write(out_fd, &c, drop, n + n_tabs, add, n + n_tabs, err);
	for (size_t t = 0; t < n_tabs; t++)
		free(tabs[t].data);
	for (size_t i = 0; i < k; i++)
		close(signed_fd[i]);
	free_fixes(&x);
	csod_cfb_close(&c);
	return rc;
}

static int cab_rules(void *ctx, int cab_fd, csod_error *err)
{
	(void)ctx;
	return csod_deep_cab_rules(cab_fd, err);
}

int csod_deep_msi_check(int fd, csod_error *err)
{
	return csod_deep_msi_cabinets(fd, NULL, cab_rules, NULL, err);
}

/* Streams id of a and b hold the same bytes. */
static int same_stream(const csod_cfb *a, uint32_t x, const csod_cfb *b, uint32_t y,
                       csod_error *err)
{
	unsigned char da[EVP_MAX_MD_SIZE], db[EVP_MAX_MD_SIZE];
	sink s = {-1, 0, {0}, 0, EVP_MD_CTX_new()}, t = {-1, 0, {0}, 0, EVP_MD_CTX_new()};
	int rc = s.md && t.md && EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) &&
	                 EVP_DigestInit_ex(t.md, EVP_sha256(), NULL)
	             ? 0
	             : csod_fail(err, "cannot start a digest");
	if (rc == 0 && (csod_cfb_read_stream(a, x, take, &s, err) < 0 ||
	                csod_cfb_read_stream(b, y, take, &t, err) < 0))
		rc = -1;
	if (rc == 0 &&
	    (!EVP_DigestFinal_ex(s.md, da, NULL) || !EVP_DigestFinal_ex(t.md, db, NULL) ||
	     s.at != t.at || memcmp(da, db, 32) != 0))
		rc = csod_fail(err, "a stream of the MSI changed that deep signing keeps");
	EVP_MD_CTX_free(s.md);
	EVP_MD_CTX_free(t.md);
	return rc;
}

/* The copy's cabinet for the input's cabinet id: the same name. */
static int check_cab(const csod_cfb *in, uint32_t id, const csod_cfb *out, X509_STORE *trust,
                     fixes *x, csod_error *err)
{
	const csod_cfb_entry *e = &in->dir[id];
	uint32_t oid = csod_cfb_find(out, 0, e->raw, e->name_len);
	if (oid == CFB_NOSTREAM)
		return csod_fail(err, "the rebuilt MSI lost a cabinet stream");
	int a = dump(in, id, NULL, err), b = a < 0 ? -1 : dump(out, oid, NULL, err), rc = -1;
	if (b >= 0 && csod_deep_cab_verify(a, b, trust, err) == 0)
		rc = collect(b, NULL, x, err);
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	return rc;
}

/* The copy's File and MsiFileHash are the input's with exactly the fixes
 * its signed files call for. */
static int check_tables(const csod_cfb *in, const csod_cfb *out, const fixes *x, uint32_t *skip,
                        csod_error *err)
{
	csod_msi_table_out tabs[2];
	size_t n = 0;
	if (csod_msi_fix_tables(in, x->f, x->n, tabs, &n, err) < 0)
		return -1;
	int rc = 0;
	for (size_t t = 0; t < n; t++) {
		skip[t] = tabs[t].id;
		uint32_t oid = csod_cfb_find(out, 0, tabs[t].name, tabs[t].name_len);
		sink s = {-1, 0, {0}, 0, EVP_MD_CTX_new()};
		unsigned char want[32], got[32];
		if (rc == 0 &&
		    (oid == CFB_NOSTREAM || !s.md || !EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) ||
		     csod_cfb_read_stream(out, oid, take, &s, err) < 0 ||
		     !EVP_DigestFinal_ex(s.md, got, NULL) ||
		     !EVP_Digest(tabs[t].data, tabs[t].len, want, NULL, EVP_sha256(), NULL) ||
		     s.at != tabs[t].len || memcmp(want, got, 32) != 0))
			rc = csod_fail(err, "the rebuilt MSI's File or MsiFileHash table does not "
			                    "match its signed files");
		EVP_MD_CTX_free(s.md);
		free(tabs[t].data);
	}
	return rc;
}

int csod_deep_msi_verify(int in_fd, int copy_fd, X509_STORE *trust, csod_error *err)
{
	csod_cfb in, out;
	if (csod_cfb_open(&in, in_fd, err) < 0)
		return -1;
	if (csod_cfb_open(&out, copy_fd, err) < 0) {
		csod_cfb_close(&in);
		return -1;
	}
	uint32_t cabs[MAX_CABS], skip[2] = {CFB_NOSTREAM, CFB_NOSTREAM};
	size_t n = 0;
	fixes x = {0};
	int rc = find_cabs(&in, cabs, &n, err);
	for (size_t k = 0; rc == 0 && k < n; k++)
		rc = check_cab(&in, cabs[k], &out, trust, &x, err);
	if (rc == 0)
		rc = check_tables(&in, &out, &x, skip, err);
	uint32_t nk, nko;
	const uint32_t *kids = csod_cfb_children(&in, 0, &nk);
	csod_cfb_children(&out, 0, &nko);
	if (rc == 0 && nk != nko)
		rc = csod_fail(err, "the rebuilt MSI has %u streams where the input has %u", nko,
		               nk);
	for (uint32_t i = 0; rc == 0 && i < nk; i++) {
		const csod_cfb_entry *e = &in.dir[kids[i]];
		int cab = 0;
		for (size_t k = 0; k < n; k++)
			cab |= cabs[k] == kids[i];
		if (cab || kids[i] == skip[0] || kids[i] == skip[1] || e->type != CFB_TYPE_STREAM)
			continue;
		uint32_t oid = csod_cfb_find(&out, 0, e->raw, e->name_len);
		rc = oid == CFB_NOSTREAM ? csod_fail(err, "the rebuilt MSI lost a stream")
		                         : same_stream(&in, kids[i], &out, oid, err);
	}
	free_fixes(&x);
	csod_cfb_close(&in);
	csod_cfb_close(&out);
	return rc;
}

int csod_deep_msi_cabinets(int fd, const char *tmp_dir,
                           int (*each)(void *ctx, int cab_fd, csod_error *err), void *ctx,
                           csod_error *err)
{
	csod_cfb c;
	if (csod_cfb_open(&c, fd, err) < 0)
		return -1;
	uint32_t cabs[MAX_CABS];
	size_t n = 0;
	int rc = find_cabs(&c, cabs, &n, err);
	for (size_t k = 0; rc == 0 && k < n; k++) {
		int raw = dump(&c, cabs[k], tmp_dir, err);
		rc = raw < 0 ? -1 : each(ctx, raw, err);
		if (raw >= 0)
			close(raw);
	}
	csod_cfb_close(&c);
	return rc;
}

int csod_deep_msi_file_names(int fd, void (*each)(void *ctx, const char *key, const char *name),
                             void *ctx, csod_error *err)
{
	csod_cfb c;
	if (csod_cfb_open(&c, fd, err) < 0)
		return -1;
	int rc = csod_msi_file_names(&c, each, ctx, err);
	csod_cfb_close(&c);
	return rc;
}
