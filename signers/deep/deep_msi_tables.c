/* File.FileSize and MsiFileHash rewritten; see deep_msi_tables.h. The
 * layout follows the MSI database format as msitools and Wine read it:
 * tables column by column, integers stored with their top bit flipped,
 * strings as 2- or 3-byte indexes into the string pool. */
#include "deep_msi_tables.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TABLE     (64u << 20)
#define TYPE_STRING   0x0800
#define TYPE_VALID    0x0100
#define TYPE_NULLABLE 0x1000
#define MAX_COLUMNS   32

static int mime64(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 36;
	return ch == '.' ? 62 : ch == '_' ? 63 : -1;
}

size_t csod_msi_stream_name(const char *name, int table, unsigned char out[64])
{
	size_t n = 0;
	uint16_t u[32];
	if (table)
		u[n++] = 0x4840;
	for (const unsigned char *p = (const unsigned char *)name; *p && n < 31;) {
		int a = mime64(p[0]), b = p[1] ? mime64(p[1]) : -1;
		if (a >= 0 && b >= 0) {
			u[n++] = (uint16_t)(0x3800 + a + (b << 6));
			p += 2;
		} else {
			u[n++] = (uint16_t)(a >= 0 ? 0x4800 + a : *p);
			p++;
		}
	}
	if (n >= 31)
		return 0;
	u[n++] = 0;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = (unsigned char)u[i];
		out[2 * i + 1] = (unsigned char)(u[i] >> 8);
	}
	return 2 * n;
}

typedef struct mem {
	unsigned char *p;
	size_t len, cap;
} mem;

static int to_mem(void *ctx, const unsigned char *p, size_t n, csod_error *err)
{
	mem *m = ctx;
	if (n > m->cap - m->len)
		return csod_fail(err, "a table stream is longer than its size");
	memcpy(m->p + m->len, p, n);
	m->len += n;
	return 0;
}

/* The table (or stream) name, read whole; *id set; m->p NULL when absent. */
static int load(const csod_cfb *c, const char *name, int table, mem *m, uint32_t *id,
                csod_error *err)
{
	unsigned char u[64];
	size_t ulen = csod_msi_stream_name(name, table, u);
	memset(m, 0, sizeof *m);
	*id = ulen ? csod_cfb_find(c, 0, u, ulen) : CFB_NOSTREAM;
	if (*id == CFB_NOSTREAM)
		return 0;
	uint32_t size = c->dir[*id].size;
	if (size > MAX_TABLE)
		return csod_fail(err, "the MSI's %s table is over 64 MiB", name);
	if (!(m->p = malloc(size + 1u)))
		return csod_fail(err, "out of memory");
	m->cap = size;
	if (csod_cfb_read_stream(c, *id, to_mem, m, err) < 0 || m->len != size) {
		free(m->p);
		m->p = NULL;
		return csod_fail(err, "cannot read the MSI's %s table", name);
	}
	return 0;
}

static uint32_t le(const unsigned char *p, unsigned width)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < width; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void put_le(unsigned char *p, uint32_t v, unsigned width)
{
	for (unsigned i = 0; i < width; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The string pool: each string id's offset and length in _StringData. */
typedef struct pool {
	mem data;
	uint32_t *off, *len, n;
	unsigned ref; /* bytes per string reference: 2, or 3 for large pools */
} pool;

static int load_pool(const csod_cfb *c, pool *sp, csod_error *err)
{
	mem p;
	uint32_t id;
	memset(sp, 0, sizeof *sp);
	if (load(c, "_StringPool", 1, &p, &id, err) < 0 ||
	    load(c, "_StringData", 1, &sp->data, &id, err) < 0)
		return free(p.p), -1;
	if (!p.p || !sp->data.p || p.len < 4)
		return free(p.p), csod_fail(err, "the MSI has no string pool");
	sp->ref = (le(p.p + 2, 2) & 0x8000) ? 3 : 2;
	size_t count = p.len / 4;
	sp->off = calloc(count + 1, sizeof *sp->off);
	sp->len = calloc(count + 1, sizeof *sp->len);
	if (!sp->off || !sp->len)
		return free(p.p), csod_fail(err, "out of memory");
	uint64_t at = 0;
	uint32_t n = 1;
	for (size_t i = 1; i < count; n++) {
		uint32_t len = le(p.p + 4 * i, 2), refs = le(p.p + 4 * i + 2, 2);
		if (len == 0 && refs == 0) {
			i++;
			continue;
		}
		if (len == 0) { /* over 64 KiB: the length's high word, then its low word */
			if (i + 1 >= count)
				break;
			len = refs << 16 | le(p.p + 4 * (i + 1), 2);
			i += 2;
		} else {
			i++;
		}
		if (at + len > sp->data.len) {
			free(p.p);
			return csod_fail(err, "the MSI's string pool points past its data");
		}
		sp->off[n] = (uint32_t)at;
		sp->len[n] = len;
		at += len;
	}
	sp->n = n;
	free(p.p);
	return 0;
}

static void free_pool(pool *sp)
{
	free(sp->data.p);
	free(sp->off);
	free(sp->len);
}

/* String id's text equals s. */
static int str_is(const pool *sp, uint32_t id, const char *s)
{
	size_t n = strlen(s);
	return id > 0 && id < sp->n && sp->len[id] == n &&
	       memcmp(sp->data.p + sp->off[id], s, n) == 0;
}

/* A table's columns, from _Columns: names (string ids) and widths. */
typedef struct columns {
	uint32_t name[MAX_COLUMNS];
	unsigned width[MAX_COLUMNS];
	unsigned n, row;
} columns;

static unsigned width_of(unsigned type, unsigned ref)
{
	if ((type & ~TYPE_NULLABLE) == (TYPE_STRING | TYPE_VALID))
		return 2; /* a stream column */
	if (type & TYPE_STRING)
		return ref;
	return (type & 0xff) <= 2 ? 2 : 4;
}

static int load_columns(const mem *cols, const pool *sp, const char *table, columns *t,
                        csod_error *err)
{
	unsigned r = sp->ref, row = 2 * r + 4;
	size_t rows = cols->len / row;
	memset(t, 0, sizeof *t);
	if (cols->len % row)
		return csod_fail(err, "the MSI's _Columns table has a partial row");
	const unsigned char *tab = cols->p, *num = tab + rows * r, *nam = num + rows * 2,
	                    *typ = nam + rows * r;
	for (size_t i = 0; i < rows; i++) {
		if (!str_is(sp, le(tab + i * r, r), table))
			continue;
		unsigned k = (le(num + i * 2, 2) ^ 0x8000) - 1;
		if (k >= MAX_COLUMNS)
			return csod_fail(err, "the MSI's %s table has too many columns", table);
		t->name[k] = le(nam + i * r, r);
		t->width[k] = width_of(le(typ + i * 2, 2) ^ 0x8000, r);
		if (k + 1 > t->n)
			t->n = k + 1;
	}
	for (unsigned k = 0; k < t->n; k++)
		t->row += t->width[k];
	return t->n ? 0 : csod_fail(err, "the MSI's _Columns lists no %s table", table);
}

/* Column name's index, or -1. */
static int column(const columns *t, const pool *sp, const char *name)
{
	for (unsigned k = 0; k < t->n; k++)
		if (str_is(sp, t->name[k], name))
			return (int)k;
	return -1;
}

/* Where column k of row i sits in a table of rows rows. */
static unsigned char *cell(const columns *t, unsigned char *p, size_t rows, int k, size_t i)
{
	size_t at = 0;
	for (int j = 0; j < k; j++)
		at += rows * t->width[j];
	return p + at + i * t->width[k];
}

/* The fix for the row whose key column holds string id key, or NULL. */
static const csod_msi_file_fix *fix_for(const pool *sp, uint32_t key,
                                        const csod_msi_file_fix *fixes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (str_is(sp, key, fixes[i].key))
			return &fixes[i];
	return NULL;
}

/* One table's rows rewritten; found counts the fixes met. */
static int fix_table(const csod_cfb *c, const mem *cols, const pool *sp, const char *table,
                     const csod_msi_file_fix *fixes, size_t n, unsigned char *found,
                     csod_msi_table_out *out, int *present, csod_error *err)
{
	mem m;
	if (load(c, table, 1, &m, &out->id, err) < 0)
		return -1;
	*present = m.p != NULL;
	if (!m.p)
		return 0;
	columns t;
	int is_file = strcmp(table, "File") == 0;
	int key = -1, value = -1;
	if (load_columns(cols, sp, table, &t, err) < 0) {
		free(m.p);
		return -1;
	}
	key = column(&t, sp, is_file ? "File" : "File_");
	value = column(&t, sp, is_file ? "FileSize" : "HashPart1");
	if (key < 0 || value < 0 || t.width[value] != 4 || !t.row || m.len % t.row ||
	    (!is_file && (value + 3 >= (int)t.n || t.width[value + 3] != 4))) {
		free(m.p);
		return csod_fail(err, "the MSI's %s table is not as expected", table);
	}
	size_t rows = m.len / t.row;
	for (size_t i = 0; i < rows; i++) {
		const csod_msi_file_fix *f =
		    fix_for(sp, le(cell(&t, m.p, rows, key, i), t.width[key]), fixes, n);
		if (!f)
			continue;
		found[f - fixes] = 1;
		if (is_file) {
			put_le(cell(&t, m.p, rows, value, i), f->size ^ 0x80000000u, 4);
			continue;
		}
		for (int k = 0; k < 4; k++)
			put_le(cell(&t, m.p, rows, value + k, i),
			       (uint32_t)le(f->md5 + 4 * k, 4) ^ 0x80000000u, 4);
	}
	out->name_len = csod_msi_stream_name(table, 1, out->name);
	out->data = m.p;
	out->len = m.len;
	return 0;
}

int csod_msi_fix_tables(const csod_cfb *c, const csod_msi_file_fix *fixes, size_t n,
                        csod_msi_table_out out[2], size_t *n_out, csod_error *err)
{
	pool sp;
	mem cols;
	uint32_t id;
	*n_out = 0;
	unsigned char *found = calloc(n + 1, 1);
	if (!found)
		return csod_fail(err, "out of memory");
	if (load_pool(c, &sp, err) < 0) {
		free_pool(&sp);
		free(found);
		return -1;
	}
	int rc = load(c, "_Columns", 1, &cols, &id, err);
	if (rc == 0 && !cols.p)
		rc = csod_fail(err, "the MSI has no _Columns table");
	const char *tables[2] = {"File", "MsiFileHash"};
	for (int k = 0; rc == 0 && k < 2; k++) {
		int present = 0;
		rc = fix_table(c, &cols, &sp, tables[k], fixes, n, found, &out[*n_out], &present,
		               err);
		if (rc == 0 && present)
			(*n_out)++;
		if (rc == 0 && k == 0 && !present)
			rc = csod_fail(err, "the MSI has no File table");
		if (rc == 0 && k == 0)
			for (size_t i = 0; i < n && rc == 0; i++)
				if (!found[i])
					rc = csod_fail(err,
					               "file '%.200s' in the cabinet has no row in "
					               "the File table",
					               fixes[i].key);
	}
	if (rc < 0) {
		for (size_t i = 0; i < *n_out; i++)
			free(out[i].data);
		*n_out = 0;
	}
	free(cols.p);
	free_pool(&sp);
	free(found);
	return rc;
}

/* String id's text, NUL-terminated and cut to fit out. */
static void str_copy(const pool *sp, uint32_t id, char *out, size_t len)
{
	size_t n = id > 0 && id < sp->n ? sp->len[id] : 0;
	if (n >= len)
		n = len - 1;
	if (n)
		memcpy(out, sp->data.p + sp->off[id], n);
	out[n] = '\0';
}

int csod_msi_file_names(const csod_cfb *c,
                        void (*each)(void *ctx, const char *key, const char *name), void *ctx,
                        csod_error *err)
{
	pool sp;
	mem cols, file;
	uint32_t id;
	columns t;
	if (load_pool(c, &sp, err) < 0) {
		free_pool(&sp);
		return -1;
	}
	int rc = load(c, "_Columns", 1, &cols, &id, err);
	if (rc == 0)
		rc = load(c, "File", 1, &file, &id, err);
	if (rc == 0 && (!cols.p || !file.p))
		rc = csod_fail(err, "the MSI has no File table");
	if (rc == 0)
		rc = load_columns(&cols, &sp, "File", &t, err);
	int key = rc == 0 ? column(&t, &sp, "File") : -1,
	    name = rc == 0 ? column(&t, &sp, "FileName") : -1;
	if (rc == 0 && (key < 0 || name < 0 || !t.row || file.len % t.row))
		rc = csod_fail(err, "the MSI's File table is not as expected");
	size_t rows = rc == 0 ? file.len / t.row : 0;
	for (size_t i = 0; i < rows; i++) {
		char k[CSOD_MSI_NAME_MAX], n[CSOD_MSI_NAME_MAX];
		str_copy(&sp, le(cell(&t, file.p, rows, key, i), t.width[key]), k, sizeof k);
		str_copy(&sp, le(cell(&t, file.p, rows, name, i), t.width[name]), n, sizeof n);
		const char *bar = strchr(n, '|'); /* "SHORT~1.EXE|long name.exe" */
		each(ctx, k, bar ? bar + 1 : n);
	}
	free(cols.p);
	free(file.p);
	free_pool(&sp);
	return rc;
}
