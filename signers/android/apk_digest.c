/* The chunked v2/v3 digest, hashed on a second thread; see apk_digest.h. */
#include "apk_digest.h"

#include <stdlib.h>
#include <string.h>

#include "../common/fileio.h"
#include "../java/zip_read.h"

/* The caller fills the lowest free slot of the ring (so a small APK uses
 * one or two) and queues it; the thread hashes queued chunks in order and
 * frees their slots. `busy`, `queue`, the counters and the flags change
 * under the lock. */

/* Appends the chunk's digest; 0 on failure. */
static int hash_chunk(csod_apk_digester *d, const unsigned char *chunk, size_t len)
{
	unsigned char prefix[5] = {0xa5};
	unsigned char out[CSOD_APK_SHA256_BYTES];
	csod_put32(prefix + 1, (uint32_t)len);
	if (!EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(d->ctx, prefix, sizeof prefix) ||
	    !EVP_DigestUpdate(d->ctx, chunk, len) || !EVP_DigestFinal_ex(d->ctx, out, NULL))
		return 0;
	csod_buf_add(&d->digests, out, sizeof out);
	return !d->digests.oom;
}

/* Writes a chunk where it goes, if it goes anywhere; the first failure is
 * kept for finish. Only the thread (or, without one, the caller) writes. */
static void write_chunk(csod_apk_digester *d, unsigned slot)
{
	int fd = d->ring_fd[slot];
	if (fd < 0 || d->write_failed)
		return;
	uint64_t end = d->ring_at[slot] + d->ring_len[slot];
	if (csod_pwrite_all(fd, d->ring[slot], d->ring_len[slot], (off_t)d->ring_at[slot],
	                    &d->write_err) < 0)
		d->write_failed = 1;
	else
		csod_write_back(fd, &d->written_back, end);
}

static void *hash_chunks(void *arg)
{
	csod_apk_digester *d = arg;
	pthread_mutex_lock(&d->lock);
	for (;;) {
		while (d->hashed == d->submitted && !d->stop)
			pthread_cond_wait(&d->work, &d->lock);
		if (d->hashed == d->submitted)
			break; /* stopped, nothing left */
		unsigned slot = d->queue[d->hashed % CSOD_APK_RING];
		const unsigned char *chunk = d->ring[slot];
		size_t len = d->ring_len[slot];
		pthread_mutex_unlock(&d->lock);
		int ok = hash_chunk(d, chunk, len);
		write_chunk(d, slot);
		pthread_mutex_lock(&d->lock);
		if (!ok)
			d->failed = 1;
		d->busy &= ~(1u << slot);
		d->hashed++;
		pthread_cond_signal(&d->room);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

int csod_apk_digester_init(csod_apk_digester *d)
{
	memset(d, 0, sizeof *d);
	if (pthread_mutex_init(&d->lock, NULL) != 0)
		return -1;
	if (pthread_cond_init(&d->work, NULL) != 0 || pthread_cond_init(&d->room, NULL) != 0) {
		pthread_mutex_destroy(&d->lock);
		return -1;
	}
	d->ready = 1;
	d->out_fd = -1;
	if (!(d->ctx = EVP_MD_CTX_new()))
		return -1;
	d->threaded = pthread_create(&d->thread, NULL, hash_chunks, d) == 0;
	return 0;
}

/* A free slot to fill: the lowest, waiting for the thread if none is. */
static unsigned take_slot(csod_apk_digester *d)
{
	if (!d->threaded)
		return 0;
	const unsigned all = (1u << CSOD_APK_RING) - 1;
	pthread_mutex_lock(&d->lock);
	while (d->busy == all)
		pthread_cond_wait(&d->room, &d->lock);
	unsigned slot = 0;
	while (d->busy & (1u << slot))
		slot++;
	d->busy |= 1u << slot;
	pthread_mutex_unlock(&d->lock);
	return slot;
}

/* The chunk being filled. The first buffer is mapped populated (it is
 * filled whole, and faulting a megabyte in page by page costs more); the
 * others only fault in what a large APK makes them hold. */
static unsigned char *current(csod_apk_digester *d)
{
	if (d->oom || !d->ctx)
		return NULL;
	if (!d->filling) {
		d->slot = take_slot(d);
		d->filling = 1;
	}
	unsigned s = d->slot;
	if (!d->ring[s] &&
	    !(d->ring[s] = s == 0 ? csod_big_alloc(CSOD_APK_CHUNK) : malloc(CSOD_APK_CHUNK)))
		d->oom = 1;
	return d->ring[s];
}

/* Queues the filled chunk (or hashes it here, without a thread). */
static void submit(csod_apk_digester *d)
{
	if (d->fill == 0)
		return;
	unsigned s = d->slot;
	d->ring_len[s] = d->fill;
	d->ring_fd[s] = d->out_fd;
	d->ring_at[s] = d->out_at;
	if (d->out_fd >= 0)
		d->out_at += d->fill;
	d->fill = 0;
	if (!d->threaded) {
		if (!hash_chunk(d, d->ring[s], d->ring_len[s]))
			d->failed = 1;
		write_chunk(d, s);
		d->submitted++;
		d->hashed++;
		return;
	}
	d->filling = 0;
	pthread_mutex_lock(&d->lock);
	d->queue[d->submitted % CSOD_APK_RING] = s;
	d->submitted++;
	pthread_cond_signal(&d->work);
	pthread_mutex_unlock(&d->lock);
}

void csod_apk_digester_feed(void *p, const unsigned char *data, size_t len)
{
	csod_apk_digester *d = p;
	while (len) {
		unsigned char *chunk = current(d);
		if (!chunk)
			return;
		size_t n = CSOD_APK_CHUNK - d->fill < len ? CSOD_APK_CHUNK - d->fill : len;
		memcpy(chunk + d->fill, data, n);
		d->fill += n;
		data += n;
		len -= n;
		if (d->fill == CSOD_APK_CHUNK)
			submit(d);
	}
}

unsigned char *csod_apk_digester_room(csod_apk_digester *d, size_t *room)
{
	unsigned char *chunk = current(d);
	*room = CSOD_APK_CHUNK - d->fill;
	return chunk ? chunk + d->fill : NULL;
}

void csod_apk_digester_commit(csod_apk_digester *d, size_t n)
{
	d->fill += n;
	if (d->fill == CSOD_APK_CHUNK)
		submit(d);
}

void csod_apk_digester_write_to(csod_apk_digester *d, int fd, uint64_t at)
{
	d->out_fd = fd;
	d->out_at = at;
}

void csod_apk_digester_end_section(csod_apk_digester *d)
{
	submit(d);
}

/* Lets the thread hash what is queued, then waits for it to end. */
static void stop_thread(csod_apk_digester *d)
{
	if (!d->threaded)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = 1;
	pthread_cond_signal(&d->work);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	d->threaded = 0;
}

int csod_apk_digester_finish(csod_apk_digester *d, unsigned char out[CSOD_APK_SHA256_BYTES],
                             csod_error *err)
{
	submit(d);
	stop_thread(d);
	if (d->write_failed) {
		*err = d->write_err;
		return -1;
	}
	unsigned char prefix[5] = {0x5a};
	csod_put32(prefix + 1, (uint32_t)d->submitted);
	if (d->failed || d->oom || !d->ctx || d->digests.oom ||
	    !EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(d->ctx, prefix, sizeof prefix) ||
	    !EVP_DigestUpdate(d->ctx, d->digests.p, d->digests.len) ||
	    !EVP_DigestFinal_ex(d->ctx, out, NULL))
		return csod_fail(err, "cannot compute the APK digest");
	return 0;
}

void csod_apk_digester_free(csod_apk_digester *d)
{
	stop_thread(d);
	if (d->ready) {
		pthread_cond_destroy(&d->work);
		pthread_cond_destroy(&d->room);
		pthread_mutex_destroy(&d->lock);
	}
	EVP_MD_CTX_free(d->ctx);
	csod_big_free(d->ring[0], CSOD_APK_CHUNK);
	for (size_t i = 1; i < CSOD_APK_RING; i++)
		free(d->ring[i]);
	csod_buf_free(&d->digests);
	memset(d, 0, sizeof *d);
}
