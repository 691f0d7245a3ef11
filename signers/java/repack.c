/* Entry order and content comparison; see repack.h. */
#include "repack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zip_crosscheck.h"

unsigned csod_repack_alignment(const char *name, int apk_align)
{
	if (!apk_align)
		return 0;
	size_t n = strlen(name);
	return n > 3 && strcmp(name + n - 3, ".so") == 0 ? 4096u : 4u;
}

int csod_repack_entries(const csod_zip *z, const csod_v1_result *v1, const unsigned char *drop,
                        int apk_align, csod_zip_out *o, csod_error *err)
{
	long dir = csod_zip_find(z, "META-INF/");
	if (dir >= 0 && !drop[dir] &&
	    csod_zip_out_copy(o, z, &z->entries[dir], csod_repack_alignment("", apk_align), err) <
	        0)
		return -1;
	if (v1 && csod_zip_out_add(o, "META-INF/MANIFEST.MF", v1->manifest.p, v1->manifest.len,
	                           csod_repack_alignment("", apk_align), err) < 0)
		return -1;
	/* Signature files first, as the JDK's JarInputStream expects. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < z->n_entries; i++) {
			const csod_zip_entry *e = &z->entries[i];
			int sig = csod_v1_signature_related(e->name);
			if (drop[i] || (long)i == dir || sig != (pass == 0))
				continue;
			if (csod_zip_out_copy(o, z, e, csod_repack_alignment(e->name, apk_align),
			                      err) < 0)
				return -1;
		}
		if (pass == 0 && v1 &&
		    (csod_zip_out_add(o, v1->sf_name, v1->sf.p, v1->sf.len,
		                      csod_repack_alignment("", apk_align), err) < 0 ||
		     csod_zip_out_add(o, v1->block_name, v1->block.p, v1->block.len,
		                      csod_repack_alignment("", apk_align), err) < 0))
			return -1;
	}
	return 0;
}

static int cmp_entry_name(const void *a, const void *b)
{
	const csod_zip_entry *x = *(const csod_zip_entry *const *)a;
	const csod_zip_entry *y = *(const csod_zip_entry *const *)b;
	return strcmp(x->name, y->name);
}

/* The content entries (not signature files) sorted by name. */
static const csod_zip_entry **content_entries(const csod_zip *z, size_t *n)
{
	const csod_zip_entry **v = malloc((z->n_entries + 1) * sizeof *v);
	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < z->n_entries; i++)
		if (!csod_v1_signature_related(z->entries[i].name))
			v[(*n)++] = &z->entries[i];
	qsort(v, *n, sizeof *v, cmp_entry_name);
	return v;
}

int csod_repack_same_content(const csod_zip *in, const csod_zip *out, csod_error *err)
{
	size_t ni = 0, no = 0;
	const csod_zip_entry **a = content_entries(in, &ni), **b = content_entries(out, &no);
	int rc = 0;
	if (!a || !b) {
		rc = csod_fail(err, "out of memory");
	} else if (ni != no) {
		rc = csod_fail(err, "signed archive has %zu entries where the input has %zu", no,
		               ni);
	} else {
		for (size_t i = 0; i < ni && rc == 0; i++)
			if (strcmp(a[i]->name, b[i]->name) != 0 || a[i]->crc != b[i]->crc ||
			    a[i]->usize != b[i]->usize || a[i]->csize != b[i]->csize ||
			    a[i]->method != b[i]->method)
				rc = csod_fail(
				    err, "signed archive's entry '%.200s' differs from the input",
				    a[i]->name);
	}
	free(a);
	free(b);
	return rc;
}

int csod_repack_open_signed(int in_fd, int out_fd, const char *what, csod_zip *out, csod_error *err)
{
	char name[64];
	snprintf(name, sizeof name, "signed %s", what);
	csod_zip in;
	if (csod_zip_open(out, out_fd, name, err) < 0)
		return -1;
	int rc = csod_zip_open(&in, in_fd, what, err);
	if (rc == 0) {
		rc = csod_repack_same_content(&in, out, err);
		csod_zip_close(&in);
	}
	if (rc == 0)
		rc = csod_zip_crosscheck(out, err);
	if (rc < 0)
		csod_zip_close(out);
	return rc;
}
