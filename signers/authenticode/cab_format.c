#include "cab_format.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WINDOW           8192
#define CFFILE_FIXED     16
#define CFDATA_FIXED     8
#define MAX_NAME         256
#define FLAG_PREV        0x0001
#define FLAG_NEXT        0x0002
#define IFOLDER_CONTINUE 0xfffd /* 0xfffd..0xffff: continued from/to another cabinet */

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads the cabinet from a buffer or a descriptor through a small window,
 * so that walking thousands of small entries costs few reads. */
typedef struct reader {
	int fd;
	const unsigned char *buf; /* NULL: read fd */
	uint64_t size;
	uint64_t win_at;
	size_t win_len;
	unsigned char win[WINDOW];
} reader;

/* The len (<= WINDOW) bytes at off, or NULL when they are not all in the file. */
static const unsigned char *peek(reader *r, uint64_t off, size_t len)
{
	if (len > WINDOW || off > r->size || len > r->size - off)
		return NULL;
	if (r->buf)
		return r->buf + off;
	if (off >= r->win_at && off + len <= r->win_at + r->win_len)
		return r->win + (off - r->win_at);
	size_t want = r->size - off < WINDOW ? (size_t)(r->size - off) : WINDOW;
	ssize_t n;
	do
		n = pread(r->fd, r->win, want, (off_t)off);
	while (n < 0 && errno == EINTR);
	if (n < (ssize_t)len)
		return NULL;
	r->win_at = off;
	r->win_len = (size_t)n;
	return r->win;
}

/* CFHEADER and its reserved area; sets data_end, where the cabinet's own
 * bytes end (the signature, if any, follows). */
static int parse_header(reader *r, csod_cab *cab, uint64_t *data_end, csod_error *err)
{
	const unsigned char *h = peek(r, 0, 4);
	if (!h || memcmp(h, "MSCF", 4) != 0)
		return csod_fail(err, "not a CAB file (no MSCF signature)");
	if (!(h = peek(r, 0, CAB_HEADER_SIZE)))
		return csod_fail(err, "truncated CAB header (%llu bytes, at least %d needed)",
		                 (unsigned long long)r->size, CAB_HEADER_SIZE);
	cab->cb_cabinet = le32(h + CAB_OFF_CB_CABINET);
	cab->coff_files = le32(h + CAB_OFF_COFF_FILES);
	cab->n_folders = le16(h + 26);
	cab->n_files = le16(h + 28);
	cab->flags = le16(h + CAB_OFF_FLAGS);
	cab->folders_at = CAB_HEADER_SIZE;
	if (h[25] != 1)
		return csod_fail(err, "unsupported CAB format version %u.%u", h[25], h[24]);
	if (cab->flags & (FLAG_PREV | FLAG_NEXT))
		return csod_fail(err, "multi-cabinet sets (a cabinet continued in another "
		                      ".cab file) are not supported");
	*data_end = r->size;
	if (!(cab->flags & CAB_FLAG_RESERVE)) {
		if (cab->cb_cabinet != r->size)
			return csod_fail(err, "cbCabinet (%u) is not the file size (%llu)",
			                 cab->cb_cabinet, (unsigned long long)r->size);
		return 0;
	}
	if (!(h = peek(r, 0, CAB_SIGNED_HEADER)))
		return csod_fail(err,
		                 "truncated CAB header (%llu bytes, its reserved area needs %d)",
		                 (unsigned long long)r->size, CAB_SIGNED_HEADER);
	uint16_t cb_header = le16(h + 36);
	if (cb_header != CAB_SIG_RESERVE || h[38] || h[39])
		return csod_fail(err,
		                 "the CAB has reserved areas Authenticode cannot use (header %u, "
		                 "folder %u, data %u bytes; a signed CAB has 20, 0, 0)",
		                 cb_header, h[38], h[39]);
	if (le32(h + 40) != CAB_SIG_AREA_MARKER)
		return csod_fail(err, "the CAB's reserved header area is not an Authenticode "
		                      "signature area");
	cab->has_signature_area = 1;
	cab->folders_at = CAB_SIGNED_HEADER;
	cab->sig_offset = le32(h + CAB_OFF_SIG_OFFSET);
	cab->sig_size = le32(h + CAB_OFF_SIG_SIZE);
	if (!cab->sig_offset != !cab->sig_size)
		return csod_fail(err, "the signature's offset (%u) and size (%u) disagree",
		                 cab->sig_offset, cab->sig_size);
	if (cab->sig_offset) {
		if ((uint64_t)cab->sig_offset + cab->sig_size != r->size)
			return csod_fail(err,
			                 "the signature (offset %u, size %u) does not end the file "
			                 "(%llu bytes)",
			                 cab->sig_offset, cab->sig_size,
			                 (unsigned long long)r->size);
		if (cab->sig_size > CAB_MAX_SIGNATURE)
			return csod_fail(err, "the signature has an implausible size (%u)",
			                 cab->sig_size);
		*data_end = cab->sig_offset;
	}
	if (cab->cb_cabinet != *data_end)
		return csod_fail(err, "cbCabinet (%u) is not the cabinet's size (%llu)",
		                 cab->cb_cabinet, (unsigned long long)*data_end);
	return 0;
}

/* The CFFOLDER table and each folder's chain of CFDATA blocks, adding up
 * the uncompressed size of every folder. */
static int parse_folders(reader *r, const csod_cab *cab, uint64_t data_end, uint64_t *folder_size,
                         csod_error *err)
{
	if (cab->coff_files >= data_end)
		return csod_fail(err,
		                 "coffFiles (%u) points past the end of the cabinet (%llu bytes)",
		                 cab->coff_files, (unsigned long long)data_end);
	uint64_t table_end = cab->folders_at + (uint64_t)cab->n_folders * CAB_FOLDER_SIZE;
	if (table_end > data_end)
		return csod_fail(err, "cFolders (%u) folder entries do not fit in the cabinet",
		                 cab->n_folders);
	if (cab->coff_files != table_end)
		return csod_fail(err, "coffFiles (%u) is not where the folder table ends (%llu)",
		                 cab->coff_files, (unsigned long long)table_end);
	if (cab->n_files && !cab->n_folders)
		return csod_fail(err, "the cabinet lists %u files but no folder", cab->n_files);
	uint64_t prev_end = cab->coff_files; /* folders' data in order, never overlapping */
	for (uint32_t i = 0; i < cab->n_folders; i++) {
		const unsigned char *f =
		    peek(r, cab->folders_at + (uint64_t)i * CAB_FOLDER_SIZE, CAB_FOLDER_SIZE);
		if (!f)
			return csod_fail(err, "cannot read folder %u", i + 1);
		uint64_t pos = le32(f);
		uint16_t blocks = le16(f + 4);
		uint16_t compression = le16(f + 6) & 0x000f;
		if (compression > 3)
			return csod_fail(err, "folder %u has an unknown compression type (%u)",
			                 i + 1, compression);
		if (pos > data_end)
			return csod_fail(err,
			                 "folder %u's data (offset %llu) lies outside the cabinet",
			                 i + 1, (unsigned long long)pos);
		if (pos < prev_end)
			return csod_fail(err,
			                 "folder %u's data (offset %llu) overlaps what precedes it",
			                 i + 1, (unsigned long long)pos);
		folder_size[i] = 0;
		for (uint32_t b = 0; b < blocks; b++) {
			const unsigned char *d =
			    pos + CFDATA_FIXED <= data_end ? peek(r, pos, CFDATA_FIXED) : NULL;
			uint64_t next = d ? pos + CFDATA_FIXED + le16(d + 4) : UINT64_MAX;
			if (next > data_end)
				return csod_fail(
				    err,
				    "folder %u's data block %u runs past the end of the "
				    "cabinet",
				    i + 1, b + 1);
			folder_size[i] += le16(d + 6);
			pos = next;
		}
		prev_end = pos;
	}
	return 0;
}

/* Each CFFILE entry: inside the cabinet, a terminated name, and its bytes
 * inside the folder it names. */
static int parse_files(reader *r, const csod_cab *cab, uint64_t data_end,
                       const uint64_t *folder_size, csod_error *err)
{
	uint64_t pos = cab->coff_files;
	for (uint32_t i = 0; i < cab->n_files; i++) {
		const unsigned char *e =
		    pos + CFFILE_FIXED <= data_end ? peek(r, pos, CFFILE_FIXED) : NULL;
		if (!e)
			return csod_fail(
			    err, "file entry %u lies past the end of the cabinet (cFiles %u)",
			    i + 1, cab->n_files);
		uint32_t size = le32(e), offset = le32(e + 4);
		uint16_t folder = le16(e + 8);
		uint64_t name_at = pos + CFFILE_FIXED;
		size_t room =
		    data_end - name_at < MAX_NAME ? (size_t)(data_end - name_at) : MAX_NAME;
		const unsigned char *name = peek(r, name_at, room);
		const unsigned char *nul = name && room ? memchr(name, 0, room) : NULL;
		if (!nul)
			return csod_fail(err, "file entry %u has no terminated name", i + 1);
		if (folder >= IFOLDER_CONTINUE)
			return csod_fail(
			    err,
			    "file entry %u continues in another cabinet (multi-cabinet "
			    "sets are not supported)",
			    i + 1);
		if (folder >= cab->n_folders)
			return csod_fail(err, "file entry %u names folder %u of %u", i + 1,
			                 folder + 1, cab->n_folders);
		if ((uint64_t)offset + size > folder_size[folder])
			return csod_fail(err,
			                 "file entry %u (%u bytes at %u) lies outside its folder "
			                 "(%llu bytes)",
			                 i + 1, size, offset,
			                 (unsigned long long)folder_size[folder]);
		pos = name_at + (uint64_t)(nul - name) + 1;
	}
	return 0;
}

static int parse(reader *r, csod_cab *cab, csod_error *err)
{
	memset(cab, 0, sizeof *cab);
	cab->file_size = r->size;
	uint64_t data_end = 0;
	if (parse_header(r, cab, &data_end, err) < 0)
		return -1;
	uint64_t *folder_size = calloc(cab->n_folders ? cab->n_folders : 1, sizeof *folder_size);
	if (!folder_size)
		return csod_fail(err, "out of memory");
	int rc = parse_folders(r, cab, data_end, folder_size, err);
	if (rc == 0)
		rc = parse_files(r, cab, data_end, folder_size, err);
	free(folder_size);
	return rc;
}

int csod_cab_parse_buffer(const unsigned char *data, size_t len, csod_cab *cab, csod_error *err)
{
	reader *r = calloc(1, sizeof *r);
	if (!r)
		return csod_fail(err, "out of memory");
	r->buf = data;
	r->size = len;
	int rc = parse(r, cab, err);
	free(r);
	return rc;
}

int csod_cab_parse(int fd, csod_cab *cab, csod_error *err)
{
	off_t size = lseek(fd, 0, SEEK_END);
	if (size < 0)
		return csod_fail_errno(err, "cannot size the file");
	if ((uint64_t)size > UINT32_MAX)
		return csod_fail(err, "CAB files over 4 GB cannot be signed (32-bit offsets)");
	reader *r = calloc(1, sizeof *r);
	if (!r)
		return csod_fail(err, "out of memory");
	r->fd = fd;
	r->size = (uint64_t)size;
	int rc = parse(r, cab, err);
	free(r);
	return rc;
}
