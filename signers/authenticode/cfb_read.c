/* Reading a compound file (MS-CFB). Everything the file says is checked
 * before it is used: sector numbers against the file's length, chains
 * against loops and against each other (every sector belongs to at most
 * one chain, which also makes the checks linear in the file's size), the
 * directory tree against cycles, stream sizes against their chains.
 *
 * Memory: the FAT, MiniFAT, directory and one owner word per sector stay
 * in memory; for a 512-byte-sector file that is about 1.6% of its size
 * (4 + 4 bytes per 512), and stream contents are never held whole. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfb.h"

const unsigned char csod_cfb_magic[8] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};

#define HEADER_DIFAT_ENTRIES 109
/* A bound on the directory so that a hostile header cannot make us hold
 * more than 32 MB of entries; real MSI files have a few hundred. */
#define MAX_DIR_ENTRIES (1u << 18)

/* Owner marks in csod_cfb_reader.owner besides stream ids + 1. */
#define OWNER_FREE    0
#define OWNER_DIR     0xfffffff0u
#define OWNER_MINIFAT 0xfffffff1u
#define OWNER_MINI    0xfffffff2u
#define OWNER_FATSECT 0xfffffff3u
#define OWNER_DIFAT   0xfffffff4u

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int read_at(int fd, void *buf, size_t len, uint64_t at, csod_error *err)
{
	unsigned char *p = buf;
	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return csod_fail_errno(err, "cannot read the compound file");
		if (n == 0)
			return csod_fail(err, "truncated compound file (data past its end at %llu)",
			                 (unsigned long long)at);
		p += n;
		len -= (size_t)n;
		at += (uint64_t)n;
	}
	return 0;
}

static uint64_t sector_offset(const csod_cfb *c, uint32_t sector)
{
	return ((uint64_t)sector + 1) * c->sector_size;
}

static const char *chain_name(uint32_t owner, char *buf, size_t len)
{
	switch (owner) {
	case OWNER_DIR:
		return "the directory";
	case OWNER_MINIFAT:
		return "the MiniFAT";
	case OWNER_MINI:
		return "the mini stream";
	case OWNER_FATSECT:
		return "the FAT";
	case OWNER_DIFAT:
		return "the DIFAT";
	default:
		snprintf(buf, len, "stream entry %u", owner - 1);
		return buf;
	}
}

/* Walks the FAT chain from start for owner, marking its sectors; stores up
 * to cap sector numbers in out (may be NULL) and the chain's length in
 * *len. A sector past the end, a loop, or a sector already in another
 * chain is refused. */
static int walk_chain(const csod_cfb *c, uint32_t *owner, uint32_t start, uint32_t who,
                      uint32_t *out, uint32_t cap, uint32_t *len, csod_error *err)
{
	char name[40], other[40];
	uint32_t n = 0;
	for (uint32_t s = start; s != CFB_ENDOFCHAIN;) {
		if (s >= c->n_sectors || s >= c->fat_len)
			return csod_fail(err,
			                 "%s: sector %u is past the end of the file (%u sectors)",
			                 chain_name(who, name, sizeof name), s, c->n_sectors);
		if (owner[s] == who)
			return csod_fail(err, "%s: a loop in its FAT chain at sector %u",
			                 chain_name(who, name, sizeof name), s);
		if (owner[s] != OWNER_FREE)
			return csod_fail(err, "%s: sector %u also belongs to %s",
			                 chain_name(who, name, sizeof name), s,
			                 chain_name(owner[s], other, sizeof other));
		owner[s] = who;
		if (out && n < cap)
			out[n] = s;
		n++;
		s = c->fat[s];
	}
	*len = n;
	return 0;
}

static int parse_header(csod_cfb *c, const unsigned char *h, csod_error *err)
{
	if (memcmp(h, csod_cfb_magic, 8) != 0)
		return csod_fail(err, "not a compound file (no D0 CF 11 E0 signature)");
	if (get16(h + 0x1c) != 0xfffe)
		return csod_fail(err, "compound file with an unknown byte order 0x%04x",
		                 get16(h + 0x1c));
	c->major = get16(h + 0x1a);
	uint16_t shift = get16(h + 0x1e);
	if (!(c->major == 3 && shift == 9) && !(c->major == 4 && shift == 12))
		return csod_fail(err,
		                 "compound file version %u with sector shift %u is not supported",
		                 c->major, shift);
	if (get16(h + 0x20) != 6)
		return csod_fail(err, "compound file with a mini sector shift of %u (must be 6)",
		                 get16(h + 0x20));
	if (get32(h + 0x38) != CFB_MINI_CUTOFF)
		return csod_fail(err,
		                 "compound file with a mini stream cutoff of %u (must be 4096)",
		                 get32(h + 0x38));
	c->sector_size = 1u << shift;
	if (c->file_size < 2ULL * c->sector_size)
		return csod_fail(err, "truncated compound file (%llu bytes)",
		                 (unsigned long long)c->file_size);
	uint64_t n = (c->file_size - c->sector_size + c->sector_size - 1) / c->sector_size;
	if (n > CFB_MAXREGSECT)
		return csod_fail(err, "compound file too large");
	c->n_sectors = (uint32_t)n;
	return 0;
}

/* The FAT: its sector numbers from the header's 109 DIFAT entries, then
 * from the chain of DIFAT sectors. */
static int load_fat(csod_cfb *c, const unsigned char *h, uint32_t *owner, csod_error *err)
{
	uint32_t per = c->sector_size / 4;
	uint32_t n_fat = get32(h + 0x2c), n_difat = get32(h + 0x48);
	if (n_fat == 0 || n_fat > c->n_sectors / per + 1)
		return csod_fail(err, "the header claims %u FAT sectors for a file of %u sectors",
		                 n_fat, c->n_sectors);
	if (n_difat > c->n_sectors)
		return csod_fail(err, "the header claims %u DIFAT sectors for a file of %u sectors",
		                 n_difat, c->n_sectors);
	uint32_t *where = malloc((size_t)n_fat * sizeof *where);
	unsigned char *sec = malloc(c->sector_size);
	c->fat_len = n_fat * per;
	c->fat = malloc((size_t)c->fat_len * sizeof *c->fat);
	int rc = -1;
	if (!where || !sec || !c->fat) {
		csod_fail(err, "out of memory for the FAT");
		goto out;
	}
	uint32_t got = 0;
	for (; got < n_fat && got < HEADER_DIFAT_ENTRIES; got++)
		where[got] = get32(h + 0x4c + 4 * got);
	uint32_t d = get32(h + 0x44);
	for (uint32_t k = 0; got < n_fat; k++) {
		if (k >= n_difat || d == CFB_ENDOFCHAIN) {
			csod_fail(err, "the DIFAT lists %u FAT sectors, the header says %u", got,
			          n_fat);
			goto out;
		}
		if (d >= c->n_sectors) {
			csod_fail(err, "DIFAT sector %u is past the end of the file (%u sectors)",
			          d, c->n_sectors);
			goto out;
		}
		if (owner[d] != OWNER_FREE) {
			csod_fail(err, "DIFAT sector %u is listed twice (a loop)", d);
			goto out;
		}
		owner[d] = OWNER_DIFAT;
		if (read_at(c->fd, sec, c->sector_size, sector_offset(c, d), err) < 0)
			goto out;
		for (uint32_t i = 0; i < per - 1 && got < n_fat; i++)
			where[got++] = get32(sec + 4 * i);
		d = get32(sec + 4 * (per - 1));
	}
	for (uint32_t i = 0; i < n_fat; i++) {
		uint32_t s = where[i];
		if (s >= c->n_sectors) {
			csod_fail(err, "FAT sector %u is past the end of the file (%u sectors)", s,
			          c->n_sectors);
			goto out;
		}
		if (owner[s] != OWNER_FREE) {
			csod_fail(err, "FAT sector %u is listed twice", s);
			goto out;
		}
		owner[s] = OWNER_FATSECT;
		if (read_at(c->fd, sec, c->sector_size, sector_offset(c, s), err) < 0)
			goto out;
		for (uint32_t j = 0; j < per; j++)
			c->fat[i * per + j] = get32(sec + 4 * j);
	}
	rc = 0;
out:
	free(where);
	free(sec);
	return rc;
}

/* Reads the sectors of a chain (already walked) into a table of words. */
static int load_words(csod_cfb *c, const uint32_t *sectors, uint32_t n, uint32_t *words,
                      csod_error *err)
{
	uint32_t per = c->sector_size / 4;
	unsigned char *sec = malloc(c->sector_size);
	if (!sec)
		return csod_fail(err, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		if (read_at(c->fd, sec, c->sector_size, sector_offset(c, sectors[i]), err) < 0) {
			free(sec);
			return -1;
		}
		for (uint32_t j = 0; j < per; j++)
			words[i * per + j] = get32(sec + 4 * j);
	}
	free(sec);
	return 0;
}

static int load_directory(csod_cfb *c, const unsigned char *h, uint32_t *owner, csod_error *err)
{
	uint32_t per = c->sector_size / CFB_DIRENT_SIZE, n = 0;
	uint32_t cap = MAX_DIR_ENTRIES / per;
	uint32_t *sectors = malloc((size_t)cap * sizeof *sectors);
	unsigned char *sec = malloc(c->sector_size);
	int rc = -1;
	if (!sectors || !sec) {
		csod_fail(err, "out of memory for the directory");
		goto out;
	}
	if (walk_chain(c, owner, get32(h + 0x30), OWNER_DIR, sectors, cap, &n, err) < 0)
		goto out;
	if (n == 0 || n > cap) {
		csod_fail(err,
		          n ? "the directory has more than %u entries" : "the directory is empty",
		          MAX_DIR_ENTRIES);
		goto out;
	}
	c->n_dir = n * per;
	c->dir = calloc(c->n_dir, sizeof *c->dir);
	if (!c->dir) {
		csod_fail(err, "out of memory for the directory");
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (read_at(c->fd, sec, c->sector_size, sector_offset(c, sectors[i]), err) < 0)
			goto out;
		for (uint32_t j = 0; j < per; j++) {
			csod_cfb_entry *e = &c->dir[i * per + j];
			const unsigned char *r = sec + j * CFB_DIRENT_SIZE;
			memcpy(e->raw, r, CFB_DIRENT_SIZE);
			e->name_len = get16(r + 0x40);
			e->type = r[0x42];
			e->left = get32(r + 0x44);
			e->right = get32(r + 0x48);
			e->child = get32(r + 0x4c);
			e->start = get32(r + 0x74);
			/* Version 3 writers may leave garbage in the high half
			 * (MS-CFB 2.6.3): only the low 32 bits count there. */
			e->size = get32(r + 0x78);
			e->parent = CFB_NOSTREAM;
			if (c->major == 4 && get32(r + 0x7c) != 0 && e->type == CFB_TYPE_STREAM) {
				csod_fail(err, "directory entry %u: a stream of 4 GB or more",
				          i * per + j);
				goto out;
			}
		}
	}
	rc = 0;
out:
	free(sectors);
	free(sec);
	return rc;
}

static int load_mini(csod_cfb *c, const unsigned char *h, uint32_t *owner, csod_error *err)
{
	const csod_cfb_entry *root = &c->dir[0];
	c->mini_size = root->size;
	uint32_t len = 0;
	if (c->mini_size > c->file_size)
		return csod_fail(err, "the mini stream's size (%u) exceeds the file", c->mini_size);
	uint32_t need = (c->mini_size + c->sector_size - 1) / c->sector_size;
	c->mini_sectors = malloc(((size_t)need + 1) * sizeof *c->mini_sectors);
	if (!c->mini_sectors)
		return csod_fail(err, "out of memory");
	if (need > 0 &&
	    walk_chain(c, owner, root->start, OWNER_MINI, c->mini_sectors, need, &len, err) < 0)
		return -1;
	if (len < need)
		return csod_fail(
		    err, "the mini stream's chain (%u sectors) is shorter than its size", len);
	c->mini_sectors_len = need;
	uint32_t n_minifat = 0, first = get32(h + 0x3c);
	uint32_t cap = c->n_sectors;
	uint32_t *sectors = malloc((size_t)cap * sizeof *sectors);
	if (!sectors)
		return csod_fail(err, "out of memory");
	if (first != CFB_ENDOFCHAIN && first != CFB_NOSTREAM &&
	    walk_chain(c, owner, first, OWNER_MINIFAT, sectors, cap, &n_minifat, err) < 0) {
		free(sectors);
		return -1;
	}
	c->minifat_len = n_minifat * (c->sector_size / 4);
	c->minifat = malloc(((size_t)c->minifat_len + 1) * sizeof *c->minifat);
	int rc = c->minifat ? load_words(c, sectors, n_minifat, c->minifat, err)
	                    : csod_fail(err, "out of memory");
	free(sectors);
	return rc;
}

/* A small stream's chain in the MiniFAT: inside the mini stream, no loop,
 * no mini sector shared with another stream, long enough for its size. */
static int check_mini_chain(const csod_cfb *c, uint32_t id, unsigned char *used, csod_error *err)
{
	const csod_cfb_entry *e = &c->dir[id];
	uint32_t n_mini = c->mini_size / CFB_MINI_SECTOR, n = 0;
	uint32_t need = (e->size + CFB_MINI_SECTOR - 1) / CFB_MINI_SECTOR;
	for (uint32_t s = e->start; n < need; n++) {
		if (s == CFB_ENDOFCHAIN)
			break;
		if (s >= n_mini || s >= c->minifat_len)
			return csod_fail(
			    err, "stream entry %u: mini sector %u is past the mini stream", id, s);
		if (used[s])
			return csod_fail(
			    err, "stream entry %u: mini sector %u is used twice (a loop)", id, s);
		used[s] = 1;
		s = c->minifat[s];
	}
	if (n < need)
		return csod_fail(err,
		                 "stream entry %u: its mini chain (%u) is shorter than its size %u",
		                 id, n, e->size);
	return 0;
}

static int check_streams(csod_cfb *c, uint32_t *owner, csod_error *err)
{
	unsigned char *used = calloc((size_t)c->mini_size / CFB_MINI_SECTOR + 1, 1);
	if (!used)
		return csod_fail(err, "out of memory");
	int rc = 0;
	for (uint32_t id = 1; id < c->n_dir && rc == 0; id++) {
		const csod_cfb_entry *e = &c->dir[id];
		if (!e->reachable || e->type != CFB_TYPE_STREAM || e->size == 0)
			continue;
		if (e->size > c->file_size) {
			rc = csod_fail(err, "stream entry %u: its size %u exceeds the file", id,
			               e->size);
		} else if (e->size < CFB_MINI_CUTOFF) {
			rc = check_mini_chain(c, id, used, err);
		} else {
			uint32_t len = 0, need = (e->size + c->sector_size - 1) / c->sector_size;
			rc = walk_chain(c, owner, e->start, id + 1, NULL, 0, &len, err);
			if (rc == 0 && len < need)
				rc = csod_fail(
				    err,
				    "stream entry %u: its chain (%u sectors) is shorter than "
				    "its size %u",
				    id, len, e->size);
		}
	}
	free(used);
	return rc;
}

int csod_cfb_open(csod_cfb *c, int fd, csod_error *err)
{
	memset(c, 0, sizeof *c);
	c->fd = fd;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return csod_fail_errno(err, "cannot stat the compound file");
	c->file_size = (uint64_t)st.st_size;
	unsigned char h[512];
	if (c->file_size < sizeof h)
		return csod_fail(err, "truncated compound file (%llu bytes, the header needs 512)",
		                 (unsigned long long)c->file_size);
	if (read_at(fd, h, sizeof h, 0, err) < 0 || parse_header(c, h, err) < 0)
		return -1;
	uint32_t *owner = calloc(c->n_sectors, sizeof *owner);
	if (!owner)
		return csod_fail(err, "out of memory");
	int rc = -1;
	if (load_fat(c, h, owner, err) == 0 && load_directory(c, h, owner, err) == 0 &&
	    csod_cfb_index_tree(c, err) == 0 && load_mini(c, h, owner, err) == 0 &&
	    check_streams(c, owner, err) == 0)
		rc = 0;
	free(owner);
	if (rc < 0)
		csod_cfb_close(c);
	return rc;
}

void csod_cfb_close(csod_cfb *c)
{
	free(c->fat);
	free(c->minifat);
	free(c->mini_sectors);
	free(c->dir);
	free(c->kids);
	free(c->kids_start);
	c->fat = c->minifat = c->mini_sectors = c->kids = c->kids_start = NULL;
	c->dir = NULL;
}

/* Small streams: at most 4095 bytes gathered mini sector by mini sector. */
static int read_mini_stream(const csod_cfb *c, const csod_cfb_entry *e, csod_cfb_sink sink,
                            void *ctx, csod_error *err)
{
	unsigned char buf[CFB_MINI_CUTOFF];
	uint32_t done = 0, s = e->start;
	while (done < e->size) {
		if (s >= c->minifat_len || s >= c->mini_size / CFB_MINI_SECTOR)
			return csod_fail(err, "a mini chain leaves the mini stream");
		uint64_t pos = (uint64_t)s * CFB_MINI_SECTOR;
		uint32_t want = e->size - done < CFB_MINI_SECTOR ? e->size - done : CFB_MINI_SECTOR;
		uint32_t sector = c->mini_sectors[pos / c->sector_size];
		if (read_at(c->fd, buf + done, want,
		            sector_offset(c, sector) + pos % c->sector_size, err) < 0)
			return -1;
		done += want;
		s = c->minifat[s];
	}
	return sink(ctx, buf, e->size, err);
}

int csod_cfb_read_stream(const csod_cfb *c, uint32_t id, csod_cfb_sink sink, void *ctx,
                         csod_error *err)
{
	const csod_cfb_entry *e = &c->dir[id];
	if (e->size == 0)
		return 0;
	if (e->size < CFB_MINI_CUTOFF)
		return read_mini_stream(c, e, sink, ctx, err);
	/* Runs of consecutive sectors are read together, up to 64 KB. */
	enum { CHUNK = 1 << 16 };
	unsigned char *buf = malloc(CHUNK);
	if (!buf)
		return csod_fail(err, "out of memory");
	uint32_t left = e->size, s = e->start, steps = 0;
	int rc = 0;
	while (left > 0 && rc == 0) {
		uint32_t first = s, run = 0;
		while (run * c->sector_size < CHUNK && (uint64_t)run * c->sector_size < left) {
			if (s >= c->fat_len || s >= c->n_sectors || ++steps > c->n_sectors) {
				rc = csod_fail(err, "a stream's chain leaves the file");
				break;
			}
			run++;
			uint32_t next = c->fat[s];
			if (next != s + 1) {
				s = next;
				break;
			}
			s = next;
		}
		if (rc < 0)
			break;
		uint32_t want = run * c->sector_size < left ? run * c->sector_size : left;
		rc = read_at(c->fd, buf, want, sector_offset(c, first), err);
		if (rc == 0)
			rc = sink(ctx, buf, want, err);
		left -= want;
	}
	free(buf);
	return rc;
}
