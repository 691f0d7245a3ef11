/* ZIP64 records; see zip64.h. */
#include "zip64.h"

#define SIG_ZIP64_EOCD 0x06064b50u
#define ZIP64_EOCD_LEN 56u
#define ZIP64_EXTRA_ID 0x0001u
#define LIMIT32        0xffffffffu

int csod_zip64_end(csod_zip *z, const unsigned char *loc, uint64_t loc_offset, csod_error *err)
{
	uint32_t loc_disk = csod_le32(loc + 4), disks = csod_le32(loc + 16);
	uint64_t at = csod_le64(loc + 8);
	unsigned char r[ZIP64_EOCD_LEN];
	if (loc_disk != 0 || disks > 1)
		return csod_fail(err, "multi-disk (split) ZIP archives are not supported");
	if (at > loc_offset || loc_offset - at < ZIP64_EOCD_LEN ||
	    csod_zip_pread(z, r, sizeof r, at, err) < 0 || csod_le32(r) != SIG_ZIP64_EOCD)
		return csod_fail(err, "corrupt ZIP64 end record (not where its locator says)");
	/* The record's size counts what follows its first 12 bytes; it must
	 * end where the locator starts. */
	if (csod_le64(r + 4) != loc_offset - at - 12)
		return csod_fail(err, "corrupt ZIP64 end record (its size is not its room)");
	uint32_t disk = csod_le32(r + 16), cd_disk = csod_le32(r + 20);
	uint64_t on_disk = csod_le64(r + 24), total = csod_le64(r + 32);
	uint64_t cd_size = csod_le64(r + 40), cd_offset = csod_le64(r + 48);
	if (disk != 0 || cd_disk != 0 || on_disk != total)
		return csod_fail(err, "multi-disk (split) ZIP archives are not supported");
	if (total > 65535 || cd_size > CSOD_ZIP_MAX_CD_SIZE || cd_offset >= LIMIT32)
		return csod_fail(err,
		                 "ZIP64 archives over 4 GiB or 65535 entries are not supported");
	z->zip64 = 1;
	z->n_entries = (size_t)total;
	z->cd_size = cd_size;
	z->cd_offset = cd_offset;
	z->cd_end = at;
	return 0;
}

/* The ZIP64 field of an extra field, its data in *p and length in *n. */
static int find_field(const unsigned char *x, size_t len, const unsigned char **p, size_t *n)
{
	size_t at = 0;
	while (len - at >= 4) {
		uint16_t id = csod_le16(x + at), sz = csod_le16(x + at + 2);
		if (sz > len - at - 4)
			return 0;
		if (id == ZIP64_EXTRA_ID) {
			*p = x + at + 4;
			*n = sz;
			return 1;
		}
		at += 4u + sz;
	}
	return 0;
}

int csod_zip64_in_extra(const unsigned char *x, size_t len)
{
	const unsigned char *p;
	size_t n;
	return find_field(x, len, &p, &n);
}

/* The next 64-bit value of the field into *v, which must fit 32 bits. */
static int take(const csod_zip_entry *e, const unsigned char **p, size_t *n, uint32_t *v,
                csod_error *err)
{
	if (*n < 8)
		return csod_fail(err, "entry '%.200s': ZIP64 extra field too short", e->name);
	uint64_t x = csod_le64(*p);
	if (x >= LIMIT32)
		return csod_fail(err, "entry '%.200s' is 4 GiB or more (not supported)", e->name);
	*v = (uint32_t)x;
	*p += 8;
	*n -= 8;
	return 0;
}

int csod_zip64_entry(csod_zip_entry *e, csod_error *err)
{
	const unsigned char *p;
	size_t n;
	if (!find_field(e->cd_extra, e->cd_extra_len, &p, &n))
		return csod_fail(err, "entry '%.200s' has no ZIP64 extra field for its sizes",
		                 e->name);
	/* In this order, each only when its 32-bit field is all ones. */
	if ((e->usize == LIMIT32 && take(e, &p, &n, &e->usize, err) < 0) ||
	    (e->csize == LIMIT32 && take(e, &p, &n, &e->csize, err) < 0) ||
	    (e->local_offset == LIMIT32 && take(e, &p, &n, &e->local_offset, err) < 0))
		return -1;
	if (e->disk_start == 0xffff) {
		if (n < 4 || csod_le32(p) != 0)
			return csod_fail(err, "multi-disk (split) ZIP archives are not supported");
		e->disk_start = 0;
	}
	return 0;
}
