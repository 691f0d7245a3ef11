/* Positioned writes and range copies for engines that build their output by
 * copying the input and patching a few fields: no file offsets are shared,
 * nothing is held in memory beyond one buffer. */
#ifndef CSOD_FILEIO_H
#define CSOD_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../lib/error.h"

/* Writes all of buf at offset at, retrying short writes. */
int csod_pwrite_all(int fd, const void *buf, size_t len, off_t at, csod_error *err);

/* Called as output grows to `end`: once `*from` lags by a few megabytes,
 * starts writing [*from, end) to disk and moves *from, so that the fsync
 * before publishing waits for the last few megabytes only, not the whole
 * file. Advice only: a failure (say, not a file) changes nothing. */
void csod_write_back(int fd, uint64_t *from, uint64_t end);

/* The same for the whole file at once: called between signing and the
 * self-check, so the disk writes the output while the check reads it from
 * the page cache. Advice only. */
void csod_write_back_all(int fd);

/* Copies in[in_at, in_at + len) to out[out_at, ...), with copy_file_range
 * where the kernel can, pread/pwrite otherwise. Fails if the input ends
 * early. */
int csod_copy_range(int in, off_t in_at, int out, off_t out_at, uint64_t len, csod_error *err);

/* A scratch file with no name, in dir (NULL: $TMPDIR, else /tmp): opened
 * O_TMPFILE where the filesystem can, else made and unlinked at once, so
 * nothing is ever reached by a name taken from the input. */
int csod_anon_file(const char *dir, csod_error *err);

/* For formats read whole (scripts, catalogs: small by nature): the file
 * in *buf (free it) and its size in *len; refused past max bytes, saying
 * "<size> bytes: <what> over <max> MiB are not signed". */
int csod_read_whole(int fd, uint64_t max, const char *what, unsigned char **buf, size_t *len,
                    csod_error *err);

#endif
