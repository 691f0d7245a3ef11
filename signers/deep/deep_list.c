/* Listing the inner files of a ZIP drop, a JAR, a cabinet or an MSI's
 * cabinets; see deep_list.h. */
#include "deep_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../common/fileio.h"
#include "deep_cab_read.h"
#include "deep_entry.h"
#include "deep_msi.h"
#include "deep_msi_tables.h"

static void hex(const unsigned char *md, unsigned len, char *out)
{
	for (unsigned i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The entry's three hashes, from a read of size bytes of fd at off. */
static int hash_fd(int fd, uint64_t at, uint64_t size, csod_deep_inner *in, csod_error *err)
{
	const EVP_MD *md[3] = {EVP_md5(), EVP_sha1(), EVP_sha256()};
	char *out[3] = {in->md5, in->sha1, in->sha256};
	EVP_MD_CTX *c[3] = {EVP_MD_CTX_new(), EVP_MD_CTX_new(), EVP_MD_CTX_new()};
	int rc = 0;
	for (int k = 0; k < 3; k++)
		if (!c[k] || !EVP_DigestInit_ex(c[k], md[k], NULL))
			rc = csod_fail(err, "cannot start a digest");
	unsigned char buf[64 * 1024];
	for (uint64_t off = 0; rc == 0 && off < size;) {
		size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
		if (pread(fd, buf, n, (off_t)(at + off)) != (ssize_t)n)
			rc = csod_fail_errno(err, "entry '%.200s': cannot read its scratch copy",
			                     in->name);
		for (int k = 0; rc == 0 && k < 3; k++)
			EVP_DigestUpdate(c[k], buf, n);
		off += n;
	}
	for (int k = 0; k < 3; k++) {
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned len = 0;
		if (rc == 0 && EVP_DigestFinal_ex(c[k], d, &len))
			hex(d, len, out[k]);
		EVP_MD_CTX_free(c[k]);
	}
	return rc;
}

/* An MSI's File keys and long names, to show beside the cabinet's names. */
typedef struct names {
	char (*key)[CSOD_MSI_NAME_MAX];
	char (*name)[CSOD_MSI_NAME_MAX];
	size_t n, cap;
	int failed;
} names;

typedef struct lister {
	int64_t max_size;
	const char *tmp_dir;
	void (*each)(void *ctx, const csod_deep_inner *inner);
	void *ctx;
	const names *msi;
} lister;

static void add_name(void *ctx, const char *key, const char *name)
{
	names *m = ctx;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 16;
		void *k = realloc(m->key, cap * sizeof *m->key),
		     *v = k ? realloc(m->name, cap * sizeof *m->name) : NULL;
		if (k)
			m->key = k;
		if (!k || !v) {
			m->failed = 1;
			return;
		}
		m->name = v;
		m->cap = cap;
	}
	snprintf(m->key[m->n], sizeof m->key[0], "%s", key);
	snprintf(m->name[m->n], sizeof m->name[0], "%s", name);
	m->n++;
}

static const char *msi_name_of(const lister *l, const char *key)
{
	for (size_t i = 0; l->msi && i < l->msi->n; i++)
		if (strcmp(l->msi->key[i], key) == 0)
			return l->msi->name[i];
	return NULL;
}

static int list_zip(const lister *l, int fd, const char *within, csod_error *err);

/* One inner file whose content is alone in efd: hashed, its engine named,
 * reported; a ZIP in the drop then has its own files listed. */
static int report(const lister *l, csod_deep_inner *in, int efd, const char *within,
                  csod_error *err)
{
	const csod_signer *s = csod_deep_signer_named(in->name, efd, err);
	if (!s && err->msg[0])
		return -1;
	in->engine = s ? s->name : NULL;
	in->within = within;
	in->file_name = msi_name_of(l, in->name);
	if (hash_fd(efd, 0, in->size, in, err) < 0)
		return -1;
	l->each(l->ctx, in);
	if (!s || strcmp(s->name, "zip") != 0)
		return 0;
	if (within) /* as the signing refuses it */
		return csod_fail(err,
		                 "entry '%.200s': entry '%.200s': a ZIP archive nested more "
		                 "than %d deep (refused)",
		                 within, in->name, CSOD_DEEP_MAX_DEPTH - 1);
	csod_error why;
	return list_zip(l, efd, in->name, &why) < 0
	           ? csod_fail(err, "entry '%.200s': %s", in->name, why.msg)
	           : 0;
}

static int list_zip(const lister *l, int fd, const char *within, csod_error *err)
{
	csod_zip z;
	if (csod_deep_open(&z, fd, l->max_size, err) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < z.n_entries; i++) {
		const csod_zip_entry *e = &z.entries[i];
		if (e->name[e->name_len - 1] == '/')
			continue;
		int efd = csod_deep_extract(&z, e, l->tmp_dir, err);
		if (efd < 0) {
			rc = -1;
			break;
		}
		csod_deep_inner in;
		memset(&in, 0, sizeof in);
		in.name = e->name;
		in.size = e->usize;
		if (e->usize == 0) /* no engine signs an empty file */
			rc = hash_fd(efd, 0, 0, &in, err) < 0 ? -1 : (l->each(l->ctx, &in), 0);
		else
			rc = report(l, &in, efd, within, err);
		close(efd);
	}
	csod_zip_close(&z);
	return rc;
}

/* A cabinet's files, folder by folder. */
static int list_cab(const lister *l, int fd, csod_error *err)
{
	csod_dcab c;
	if (csod_dcab_open(&c, fd, l->max_size, err) < 0)
		return -1;
	int rc = 0;
	size_t k = 0;
	for (uint16_t i = 0; rc == 0 && i < c.cab.n_folders; i++) {
		int content = csod_anon_file(l->tmp_dir, err);
		rc = content < 0 ? -1 : csod_dcab_unpack(&c, i, content, err);
		for (; rc == 0 && k < c.cab.n_files && c.files[k].folder == i; k++) {
			const csod_dcab_file *f = &c.files[k];
			int efd = csod_anon_file(l->tmp_dir, err);
			csod_deep_inner in;
			memset(&in, 0, sizeof in);
			in.name = f->name;
			in.size = f->size;
			if (efd < 0 ||
			    csod_copy_range(content, f->offset, efd, 0, f->size, err) < 0)
				rc = -1;
			else if (f->size == 0)
				rc = hash_fd(efd, 0, 0, &in, err) < 0 ? -1
				                                      : (l->each(l->ctx, &in), 0);
			else
				rc = report(l, &in, efd, NULL, err);
			if (efd >= 0)
				close(efd);
		}
		if (content >= 0)
			close(content);
	}
	csod_dcab_close(&c);
	return rc;
}

static int list_one_cab(void *ctx, int cab_fd, csod_error *err)
{
	return list_cab(ctx, cab_fd, err);
}

int csod_deep_list(int fd, int64_t max_size, const char *tmp_dir,
                   void (*each)(void *ctx, const csod_deep_inner *inner), void *ctx,
                   csod_error *err)
{
	lister l = {max_size, tmp_dir, each, ctx, NULL};
	unsigned char head[4];
	int n = (int)pread(fd, head, sizeof head, 0);
	if (n == (int)sizeof head && memcmp(head, "MSCF", 4) == 0)
		return list_cab(&l, fd, err);
	if (n == (int)sizeof head && memcmp(head, "\xd0\xcf\x11\xe0", 4) == 0) {
		names m = {0};
		int rc = csod_deep_msi_file_names(fd, add_name, &m, err);
		if (rc == 0 && m.failed)
			rc = csod_fail(err, "out of memory");
		l.msi = &m;
		if (rc == 0)
			rc = csod_deep_msi_cabinets(fd, tmp_dir, list_one_cab, &l, err);
		free(m.key);
		free(m.name);
		return rc;
	}
	return list_zip(&l, fd, NULL, err);
}
