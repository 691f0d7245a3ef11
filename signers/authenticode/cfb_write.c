/* Writing a compound file (MS-CFB) from the streams of another one plus new
 * ones. The new file is laid out from scratch, in this order after the
 * header: the large streams (4096 bytes and more) each in consecutive
 * sectors, the mini stream, the MiniFAT, the directory, the FAT, the DIFAT.
 * Stream contents are copied in chunks from the source; only the tables
 * (FAT, MiniFAT, directory: about 1% of the file) are built in memory.
 * Each storage's children become a balanced binary tree coloured so that it
 * is a valid red-black tree: black above the deepest level, red on it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/fileio.h"
#include "cfb.h"

#define HEADER_DIFAT_ENTRIES 109
#define COLOR_RED            0
#define COLOR_BLACK          1

typedef struct out_entry {
	uint32_t src; /* entry in the source, or CFB_NOSTREAM for an added one */
	const csod_cfb_new_stream *added;
	const unsigned char *name;
	uint16_t name_len;
	uint8_t type;
	uint8_t color;
	uint32_t parent;
	uint32_t left, right, child;
	uint32_t start;
	uint32_t size;
} out_entry;

typedef struct layout {
	uint32_t sector_size, per; /* bytes and FAT entries per sector */
	uint32_t n_big;            /* sectors of large streams */
	uint32_t mini_first, mini_secs, n_mini;
	uint32_t minifat_first, minifat_secs;
	uint32_t dir_first, dir_secs;
	uint32_t fat_first, n_fat;
	uint32_t difat_first, n_difat;
	uint32_t total;
} layout;

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t div_up(uint64_t a, uint32_t b)
{
	return (uint32_t)((a + b - 1) / b);
}

static uint16_t upper(uint16_t ch)
{
	return ch >= 'a' && ch <= 'z' ? (uint16_t)(ch - 32) : ch;
}

/* MS-CFB's order of siblings: shorter names first, then code unit by code
 * unit, case-folded (ASCII here: MSI stream names are ASCII or the
 * packed characters above U+3800, which have no case). */
static int compare_entries(const void *a, const void *b, void *arg)
{
	const out_entry *all = arg;
	const out_entry *x = &all[*(const uint32_t *)a], *y = &all[*(const uint32_t *)b];
	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	if (x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1;
	for (size_t i = 0; i + 1 < x->name_len; i += 2) {
		uint16_t cx = upper((uint16_t)(x->name[i] | x->name[i + 1] << 8));
		uint16_t cy = upper((uint16_t)(y->name[i] | y->name[i + 1] << 8));
		if (cx != cy)
			return cx < cy ? -1 : 1;
	}
	return 0;
}

/* Balanced tree over sorted ids[lo, hi); returns its root. */
static uint32_t build_tree(out_entry *all, const uint32_t *ids, size_t lo, size_t hi,
                           unsigned depth, unsigned red_depth)
{
	if (lo >= hi)
		return CFB_NOSTREAM;
	size_t mid = lo + (hi - lo) / 2;
	out_entry *e = &all[ids[mid]];
	e->left = build_tree(all, ids, lo, mid, depth + 1, red_depth);
	e->right = build_tree(all, ids, mid + 1, hi, depth + 1, red_depth);
	e->color = depth == red_depth ? COLOR_RED : COLOR_BLACK;
	return ids[mid];
}

/* Sorts the entries by parent then name and hangs each storage's children
 * under it as a red-black tree. */
static int build_trees(out_entry *all, uint32_t n, csod_error *err)
{
	if (n < 2)
		return 0;
	uint32_t *ids = malloc((size_t)(n - 1) * sizeof *ids);
	if (!ids)
		return csod_fail(err, "out of memory");
	for (uint32_t i = 1; i < n; i++)
		ids[i - 1] = i;
	qsort_r(ids, n - 1, sizeof *ids, compare_entries, all);
	for (size_t lo = 0; lo < n - 1;) {
		size_t hi = lo;
		while (hi < n - 1 && all[ids[hi]].parent == all[ids[lo]].parent)
			hi++;
		for (size_t k = lo + 1; k < hi; k++)
			if (compare_entries(&ids[k - 1], &ids[k], all) == 0) {
				free(ids);
				return csod_fail(err, "two entries of one storage share a name");
			}
		/* Nodes of a tree built by halving sit at depths that differ by
		 * at most one: colouring the deepest level red (when it is not
		 * the root) gives every path the same number of black nodes. */
		unsigned max_depth = 0;
		for (size_t count = hi - lo; count > 1; count /= 2)
			max_depth++;
		unsigned red = max_depth > 0 ? max_depth : ~0u;
		all[all[ids[lo]].parent].child = build_tree(all, ids, lo, hi, 0, red);
		lo = hi;
	}
	free(ids);
	return 0;
}

static int plan_entries(const csod_cfb *src, const uint32_t *drop, size_t n_drop,
                        const csod_cfb_new_stream *add, size_t n_add, out_entry **out_all,
                        uint32_t *out_n, csod_error *err)
{
	uint32_t *map = malloc((size_t)src->n_dir * sizeof *map);
	out_entry *all = calloc((size_t)src->n_dir + n_add, sizeof *all);
	if (!map || !all) {
		free(map);
		free(all);
		return csod_fail(err, "out of memory");
	}
	uint32_t n = 0;
	for (uint32_t i = 0; i < src->n_dir; i++) {
		map[i] = CFB_NOSTREAM;
		int skip = !src->dir[i].reachable;
		for (size_t k = 0; k < n_drop; k++)
			skip |= drop[k] == i && i != 0;
		if (skip)
			continue;
		map[i] = n;
		const csod_cfb_entry *e = &src->dir[i];
		all[n++] = (out_entry){.src = i,
		                       .name = e->raw,
		                       .name_len = e->name_len,
		                       .type = e->type,
		                       .color = COLOR_BLACK,
		                       .child = CFB_NOSTREAM,
		                       .size = e->type == CFB_TYPE_STREAM ? e->size : 0};
	}
	for (uint32_t j = 1; j < n; j++)
		all[j].parent = map[src->dir[all[j].src].parent];
	free(map);
	for (size_t k = 0; k < n_add; k++) {
		if (add[k].len >= UINT32_MAX || add[k].name_len > 64)
			return free(all), csod_fail(err, "a new stream is too large");
		all[n++] = (out_entry){.src = CFB_NOSTREAM,
		                       .added = &add[k],
		                       .name = add[k].name,
		                       .name_len = (uint16_t)add[k].name_len,
		                       .type = CFB_TYPE_STREAM,
		                       .color = COLOR_BLACK,
		                       .child = CFB_NOSTREAM,
		                       .size = (uint32_t)add[k].len};
	}
	for (uint32_t j = 0; j < n; j++)
		all[j].left = all[j].right = CFB_NOSTREAM;
	if (build_trees(all, n, err) < 0)
		return free(all), -1;
	*out_all = all;
	*out_n = n;
	return 0;
}

/* Places every stream and table; FAT and DIFAT sectors must also cover
 * themselves, hence the loop until the counts settle. */
static void plan_layout(out_entry *all, uint32_t n, uint32_t sector_size, layout *l)
{
	memset(l, 0, sizeof *l);
	l->sector_size = sector_size;
	l->per = sector_size / 4;
	for (uint32_t i = 0; i < n; i++) {
		out_entry *e = &all[i];
		if (e->type != CFB_TYPE_STREAM)
			continue;
		if (e->size == 0) {
			e->start = CFB_ENDOFCHAIN;
		} else if (e->size >= CFB_MINI_CUTOFF) {
			e->start = l->n_big;
			l->n_big += div_up(e->size, sector_size);
		} else {
			e->start = l->n_mini;
			l->n_mini += div_up(e->size, CFB_MINI_SECTOR);
		}
	}
	l->mini_first = l->n_big;
	l->mini_secs = div_up((uint64_t)l->n_mini * CFB_MINI_SECTOR, sector_size);
	l->minifat_first = l->mini_first + l->mini_secs;
	l->minifat_secs = div_up((uint64_t)l->n_mini * 4, sector_size);
	l->dir_first = l->minifat_first + l->minifat_secs;
	l->dir_secs = div_up((uint64_t)n * CFB_DIRENT_SIZE, sector_size);
	l->fat_first = l->dir_first + l->dir_secs;
	uint32_t data = l->fat_first;
	for (;;) {
		uint32_t fat = div_up((uint64_t)data + l->n_fat + l->n_difat, l->per);
		uint32_t difat =
		    fat > HEADER_DIFAT_ENTRIES ? div_up(fat - HEADER_DIFAT_ENTRIES, l->per - 1) : 0;
		if (fat == l->n_fat && difat == l->n_difat)
			break;
		l->n_fat = fat;
		l->n_difat = difat;
	}
	l->difat_first = l->fat_first + l->n_fat;
	l->total = l->difat_first + l->n_difat;
	all[0].start = l->n_mini ? l->mini_first : CFB_ENDOFCHAIN;
	all[0].size = l->n_mini * CFB_MINI_SECTOR;
}

/* Links count consecutive entries from first into one chain. */
static void chain(uint32_t *table, uint32_t first, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++)
		table[first + i] = i + 1 < count ? first + i + 1 : CFB_ENDOFCHAIN;
}

typedef struct copy_sink {
	int fd;
	uint64_t at;
} copy_sink;

static int write_chunk(void *ctx, const unsigned char *p, size_t n, csod_error *err)
{
	copy_sink *s = ctx;
	if (csod_pwrite_all(s->fd, p, n, (off_t)s->at, err) < 0)
		return -1;
	s->at += n;
	return 0;
}

static uint64_t sector_at(const layout *l, uint32_t sector)
{
	return ((uint64_t)sector + 1) * l->sector_size;
}

static int write_streams(int out, const csod_cfb *src, const out_entry *all, uint32_t n,
                         const layout *l, csod_error *err)
{
	for (uint32_t i = 1; i < n; i++) {
		const out_entry *e = &all[i];
		if (e->type != CFB_TYPE_STREAM || e->size == 0)
			continue;
		copy_sink s = {out, e->size >= CFB_MINI_CUTOFF
		                        ? sector_at(l, e->start)
		                        : sector_at(l, l->mini_first) +
		                              (uint64_t)e->start * CFB_MINI_SECTOR};
		int rc = !e->added ? csod_cfb_read_stream(src, e->src, write_chunk, &s, err)
		         : e->added->from_fd ? csod_copy_range(e->added->fd, 0, out, (off_t)s.at,
		                                               e->added->len, err)
		                             : write_chunk(&s, e->added->data, e->added->len, err);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int write_table(int out, const layout *l, const uint32_t *words, uint32_t first,
                       uint32_t secs, csod_error *err)
{
	unsigned char *buf = malloc(l->sector_size);
	if (!buf)
		return csod_fail(err, "out of memory");
	int rc = 0;
	for (uint32_t i = 0; i < secs && rc == 0; i++) {
		for (uint32_t j = 0; j < l->per; j++)
			put32(buf + 4 * j, words[(size_t)i * l->per + j]);
		rc = csod_pwrite_all(out, buf, l->sector_size, (off_t)sector_at(l, first + i), err);
	}
	free(buf);
	return rc;
}

static int write_minifat(int out, const out_entry *all, uint32_t n, const layout *l,
                         csod_error *err)
{
	size_t len = (size_t)l->minifat_secs * l->per;
	uint32_t *mf = malloc(len * sizeof *mf + 1);
	if (!mf)
		return csod_fail(err, "out of memory");
	for (size_t i = 0; i < len; i++)
		mf[i] = CFB_NOSTREAM;
	for (uint32_t i = 1; i < n; i++)
		if (all[i].type == CFB_TYPE_STREAM && all[i].size && all[i].size < CFB_MINI_CUTOFF)
			chain(mf, all[i].start, div_up(all[i].size, CFB_MINI_SECTOR));
	int rc = write_table(out, l, mf, l->minifat_first, l->minifat_secs, err);
	free(mf);
	return rc;
}

static void encode_entry(const csod_cfb *src, const out_entry *e, unsigned char *r)
{
	memset(r, 0, CFB_DIRENT_SIZE);
	if (e->src != CFB_NOSTREAM)
		memcpy(r, src->dir[e->src].raw, CFB_DIRENT_SIZE);
	memset(r, 0, 64);
	memcpy(r, e->name, e->name_len);
	put16(r + 0x40, e->name_len);
	r[0x42] = e->type;
	r[0x43] = e->color;
	put32(r + 0x44, e->left);
	put32(r + 0x48, e->right);
	put32(r + 0x4c, e->type == CFB_TYPE_STREAM ? CFB_NOSTREAM : e->child);
	int has_data = e->type != CFB_TYPE_STORAGE;
	put32(r + 0x74, has_data ? e->start : 0);
	put32(r + 0x78, has_data ? e->size : 0);
	put32(r + 0x7c, 0);
}

static int write_directory(int out, const csod_cfb *src, const out_entry *all, uint32_t n,
                           const layout *l, csod_error *err)
{
	unsigned char *buf = malloc(l->sector_size);
	if (!buf)
		return csod_fail(err, "out of memory");
	uint32_t per = l->sector_size / CFB_DIRENT_SIZE;
	int rc = 0;
	for (uint32_t s = 0; s < l->dir_secs && rc == 0; s++) {
		for (uint32_t k = 0; k < per; k++) {
			uint32_t id = s * per + k;
			unsigned char *r = buf + k * CFB_DIRENT_SIZE;
			if (id < n) {
				encode_entry(src, &all[id], r);
				continue;
			}
			memset(r, 0, CFB_DIRENT_SIZE);
			put32(r + 0x44, CFB_NOSTREAM);
			put32(r + 0x48, CFB_NOSTREAM);
			put32(r + 0x4c, CFB_NOSTREAM);
		}
		rc = csod_pwrite_all(out, buf, l->sector_size,
		                     (off_t)sector_at(l, l->dir_first + s), err);
	}
	free(buf);
	return rc;
}

/* The FAT, the DIFAT sectors and the header that points at them. */
static int write_fat_and_header(int out, const out_entry *all, uint32_t n, const layout *l,
                                uint16_t major, csod_error *err)
{
	size_t len = (size_t)l->n_fat * l->per;
	uint32_t *fat = malloc(len * sizeof *fat);
	size_t difat_len = (size_t)l->n_difat * l->per;
	uint32_t *difat = malloc(difat_len * sizeof *difat + 1);
	if (!fat || !difat) {
		free(fat);
		free(difat);
		return csod_fail(err, "out of memory");
	}
	for (size_t i = 0; i < len; i++)
		fat[i] = CFB_NOSTREAM;
	for (uint32_t i = 1; i < n; i++)
		if (all[i].type == CFB_TYPE_STREAM && all[i].size >= CFB_MINI_CUTOFF)
			chain(fat, all[i].start, div_up(all[i].size, l->sector_size));
	chain(fat, l->mini_first, l->mini_secs);
	chain(fat, l->minifat_first, l->minifat_secs);
	chain(fat, l->dir_first, l->dir_secs);
	for (uint32_t i = 0; i < l->n_fat; i++)
		fat[l->fat_first + i] = CFB_FATSECT;
	for (uint32_t i = 0; i < l->n_difat; i++)
		fat[l->difat_first + i] = CFB_DIFSECT;
	for (size_t i = 0; i < difat_len; i++)
		difat[i] = CFB_NOSTREAM;
	for (uint32_t i = HEADER_DIFAT_ENTRIES; i < l->n_fat; i++) {
		uint32_t k = i - HEADER_DIFAT_ENTRIES;
		difat[(size_t)(k / (l->per - 1)) * l->per + k % (l->per - 1)] = l->fat_first + i;
	}
	for (uint32_t d = 0; d < l->n_difat; d++)
		difat[(size_t)d * l->per + l->per - 1] =
		    d + 1 < l->n_difat ? l->difat_first + d + 1 : CFB_ENDOFCHAIN;
	int rc = write_table(out, l, fat, l->fat_first, l->n_fat, err);
	if (rc == 0)
		rc = write_table(out, l, difat, l->difat_first, l->n_difat, err);
	free(fat);
	free(difat);
	if (rc < 0)
		return -1;

	unsigned char h[512] = {0};
	memcpy(h, csod_cfb_magic, 8);
	put16(h + 0x18, 0x3e);
	put16(h + 0x1a, major);
	put16(h + 0x1c, 0xfffe);
	put16(h + 0x1e, l->sector_size == 4096 ? 12 : 9);
	put16(h + 0x20, 6);
	put32(h + 0x28, major == 4 ? l->dir_secs : 0);
	put32(h + 0x2c, l->n_fat);
	put32(h + 0x30, l->dir_first);
	put32(h + 0x38, CFB_MINI_CUTOFF);
	put32(h + 0x3c, l->minifat_secs ? l->minifat_first : CFB_ENDOFCHAIN);
	put32(h + 0x40, l->minifat_secs);
	put32(h + 0x44, l->n_difat ? l->difat_first : CFB_ENDOFCHAIN);
	put32(h + 0x48, l->n_difat);
	for (uint32_t i = 0; i < HEADER_DIFAT_ENTRIES; i++)
		put32(h + 0x4c + 4 * i, i < l->n_fat ? l->fat_first + i : CFB_NOSTREAM);
	return csod_pwrite_all(out, h, sizeof h, 0, err);
}

int csod_cfb_write(int out, const csod_cfb *src, const uint32_t *drop, size_t n_drop,
                   const csod_cfb_new_stream *add, size_t n_add, csod_error *err)
{
	out_entry *all = NULL;
	uint32_t n = 0;
	if (plan_entries(src, drop, n_drop, add, n_add, &all, &n, err) < 0)
		return -1;
	layout l;
	plan_layout(all, n, src->sector_size, &l);
	int rc = -1;
	if (write_streams(out, src, all, n, &l, err) == 0 &&
	    write_minifat(out, all, n, &l, err) == 0 &&
	    write_directory(out, src, all, n, &l, err) == 0 &&
	    write_fat_and_header(out, all, n, &l, src->major, err) == 0)
		rc = 0;
	/* The header sector of a version 4 file is 4096 bytes, zero after 512;
	 * the file ends at the last sector even where it was never written. */
	if (rc == 0 && ftruncate(out, (off_t)sector_at(&l, l.total)) < 0)
		rc = csod_fail_errno(err, "cannot size the output");
	free(all);
	return rc;
}
