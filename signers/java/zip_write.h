/* A small byte-level ZIP writer for re-packing a signed archive: entries'
 * compressed bytes are copied verbatim from the input (never recompressed),
 * local headers are rebuilt from the central directory, stored entries can
 * be aligned (zipalign's rule) with an alignment extra field, and the
 * central directory is collected in memory so that the APK engine can put
 * its signing block in front of it. libzip cannot do the last two. */
#ifndef CSOD_ZIP_WRITE_H
#define CSOD_ZIP_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "../../lib/error.h"
#include "bytebuf.h"
#include "zip_read.h"

/* Where the bytes go instead of the file, in order: the APK engine digests
 * them on a second thread, which also writes them. Copied entries are read
 * straight into its room (no copy); headers are put. */
typedef struct csod_zip_stage {
	void (*put)(void *ctx, const unsigned char *data, size_t len);
	/* At least one byte of room, its size in *room; NULL if out of memory. */
	unsigned char *(*room)(void *ctx, size_t *room);
	void (*commit)(void *ctx, size_t n); /* n bytes were put in the room */
	void *ctx;
} csod_zip_stage;

typedef struct csod_zip_out {
	int fd;
	uint64_t pos;
	uint64_t written_back;       /* output before this is on its way to disk */
	const csod_zip_stage *stage; /* if set, takes the bytes instead of fd */
	csod_buf cd;                 /* central directory records so far */
	size_t n_entries;
	uint16_t dos_time, dos_date; /* for entries we add */
	unsigned char *copy_buf;     /* one buffer for every copied entry */
	int bare;                    /* copies drop central extra fields and comments (MSIX) */
} csod_zip_out;

void csod_zip_out_init(csod_zip_out *o, int fd);
void csod_zip_out_free(csod_zip_out *o);

int csod_zip_out_write(csod_zip_out *o, const void *data, size_t len, csod_error *err);

/* Copies entry e of z: new local header (no data descriptor), then its
 * compressed bytes. align > 1 aligns a stored entry's data to that many
 * bytes. */
int csod_zip_out_copy(csod_zip_out *o, const csod_zip *z, const csod_zip_entry *e, unsigned align,
                      csod_error *err);

/* The same, handing each piece of the entry's compressed data to seen
 * (after it is written) so that one read serves both; seen returns -1 and
 * sets the error through its own context to stop. */
int csod_zip_out_copy_seen(csod_zip_out *o, const csod_zip *z, const csod_zip_entry *e,
                           unsigned align, csod_zip_sink seen, void *seen_ctx, csod_error *err);

/* Entry e of z again, with new content: the len bytes of data_fd, stored
 * or deflated (at zlib's default level) as e was, with e's name, times,
 * attributes, comment and extra fields (but no ZIP64 or alignment field).
 * scratch_fd, an empty file, holds the deflated bytes meanwhile. */
int csod_zip_out_replace(csod_zip_out *o, const csod_zip *z, const csod_zip_entry *e, int data_fd,
                         uint64_t len, int scratch_fd, csod_error *err);

/* Adds a new stored entry holding data. */
int csod_zip_out_add(csod_zip_out *o, const char *name, const unsigned char *data, size_t len,
                     unsigned align, csod_error *err);

/* The end of central directory record for the collected directory placed at
 * cd_offset, with the given archive comment. */
void csod_zip_out_eocd(const csod_zip_out *o, uint64_t cd_offset, const unsigned char *comment,
                       uint16_t comment_len, csod_buf *out);

#endif
