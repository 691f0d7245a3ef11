/* One read of a file range, split over two threads: a reader thread reads
 * it in chunks into a small ring of buffers and hands each chunk to a
 * callback (copying it to the output, summing a checksum, comparing it with
 * another file), while the calling thread feeds the same chunk to the
 * digests. Hashing is the slowest part of signing a large file; this keeps
 * everything else off its path. Memory is the ring, whatever the size. */
#ifndef CSOD_SCAN_H
#define CSOD_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "../../lib/error.h"

#define CSOD_SCAN_HOLES 2
#define CSOD_SCAN_CHUNK (1 << 20) /* the most on_chunk is given at once */

/* Called on the reader thread with the file's bytes [pos, pos + len), in
 * file order, before they are hashed; it may change the bytes of the
 * holes (they are not hashed). Returns -1 with err set to stop the scan. */
typedef int (*csod_scan_fn)(void *ctx, unsigned char *buf, uint64_t pos, size_t len,
                            csod_error *err);

typedef struct csod_scan {
	int fd;
	uint64_t from, to;                 /* the bytes read */
	uint64_t hash_end;                 /* bytes at or past this are not hashed */
	uint64_t hole_at[CSOD_SCAN_HOLES]; /* fields left out of the hash */
	size_t hole_len[CSOD_SCAN_HOLES];
	EVP_MD_CTX **md; /* n_md started digests, updated in file order */
	int n_md;
	csod_scan_fn on_chunk; /* may be NULL */
	/* Called on the calling thread with each chunk once it is hashed, in
	 * file order (after on_chunk has seen it); may be NULL. Work that
	 * would otherwise wait on the reader thread goes here. Returns -1
	 * with err set to stop the scan. */
	csod_scan_fn after_hash;
	void *ctx;
	/* Told the bytes hashed so far (from `from`), on the calling thread;
	 * may be NULL. */
	void (*progress)(void *ctx, uint64_t done);
	void *progress_ctx;
} csod_scan;

/* Reads s->fd's [from, to) once; fails if the file ends early. Runs on one
 * thread when a second cannot be started. */
int csod_scan_run(const csod_scan *s, csod_error *err);

/* Starts a digest context in ctx[k] for each mds[k], k < n. */
int csod_scan_start(EVP_MD_CTX **ctx, const EVP_MD *const *mds, int n, csod_error *err);

/* Finishes the n contexts into out (unless out is NULL) and frees them. */
int csod_scan_finish(EVP_MD_CTX **ctx, int n, unsigned char (*out)[EVP_MAX_MD_SIZE],
                     unsigned *out_len, csod_error *err);

#endif
