/* The v2/v3 content digest: SHA-256 over 1 MB chunks of the entries, the
 * central directory and the end record, then over the chunk digests.
 *
 * The chunks are hashed on a second thread while the caller goes on: when
 * an APK also has a v1 signature, the caller spends as long inflating and
 * hashing the entries' content for v1 as the chunks take, and the two are
 * independent (they hash different bytes). The caller fills a ring of a
 * few chunk buffers; the thread hashes queued ones and frees them, so
 * memory stays a few megabytes whatever the archive's size. A caller that
 * would wait for a free buffer (it only reads: v2/v3 alone, or the
 * self-check) hashes a queued chunk itself instead, so both cores hash.
 * If the thread cannot be started the chunks are hashed inline. */
#ifndef CSOD_APK_DIGEST_H
#define CSOD_APK_DIGEST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "../../lib/error.h"
#include "../java/bytebuf.h"

#define CSOD_APK_CHUNK        (1024u * 1024u)
#define CSOD_APK_SHA256_BYTES 32u
#define CSOD_APK_RING         3u /* chunk buffers: one filling, up to two queued */

typedef struct csod_apk_digester {
	unsigned char *ring[CSOD_APK_RING];
	/* Each queued slot's chunk: its number, length and where it goes. */
	uint64_t ring_chunk[CSOD_APK_RING];
	size_t ring_len[CSOD_APK_RING];
	int ring_fd[CSOD_APK_RING];
	uint64_t ring_at[CSOD_APK_RING];
	unsigned queue[CSOD_APK_RING]; /* slot of chunk n at n % CSOD_APK_RING */
	unsigned busy;                 /* a bit per slot: filling, queued or hashing */
	unsigned slot;                 /* the one being filled, if filling */
	int filling;
	size_t fill;           /* bytes in the chunk being filled */
	int out_fd;            /* chunks filled from now on are written here */
	uint64_t out_at;       /* at this offset in it */
	uint64_t written_back; /* the thread's: see csod_write_back */
	/* Under the lock: */
	uint64_t submitted, started, done; /* chunks queued, taken, hashed */
	csod_buf digests;                  /* chunk n's digest at n * 32 */
	csod_error write_err;              /* the first failed write */
	int write_failed, failed, stop;
	int oom, threaded, ready;
	EVP_MD_CTX *ctx[2]; /* the thread's and the caller's */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work, room; /* a chunk to hash; a slot or chunk done */
} csod_apk_digester;

/* 0, or -1 when out of memory (free is still safe). */
int csod_apk_digester_init(csod_apk_digester *d);
/* The next bytes of the current section, in order. */
void csod_apk_digester_feed(void *d, const unsigned char *data, size_t len);
/* Room to read the next bytes into directly (saves the copy feed makes):
 * at least one byte, *room says how many, NULL when out of memory. Then
 * commit says how many were put there; they stay readable, unchanged,
 * until the next call to room or feed. */
unsigned char *csod_apk_digester_room(csod_apk_digester *d, size_t *room);
void csod_apk_digester_commit(csod_apk_digester *d, size_t n);
/* From the next chunk on, the chunks are also written to fd from offset at
 * on, by the thread once it has hashed them (so the caller neither copies
 * nor writes them); fd -1 stops that. Call it between sections. */
void csod_apk_digester_write_to(csod_apk_digester *d, int fd, uint64_t at);
/* The current section ends: its last chunk may be short. */
void csod_apk_digester_end_section(csod_apk_digester *d);
/* Waits for the thread and gives the top-level digest; -1 with the reason
 * (a failed write among them) on failure. */
int csod_apk_digester_finish(csod_apk_digester *d, unsigned char out[CSOD_APK_SHA256_BYTES],
                             csod_error *err);
/* Stops the thread (if finish was not reached) and frees everything. */
void csod_apk_digester_free(csod_apk_digester *d);

#endif
