/* The chunked v2/v3 digest, hashed on a second thread; see apk_digest.h.
 *
 * The caller fills the lowest free slot of the ring (so a small APK uses
 * one or two) and queues it. Hashers (the thread, and the caller when it
 * would otherwise wait) take queued chunks in order, hash them outside the
 * lock, write them where they go, then record the digest at the chunk's
 * number and free the slot. The digests are independent, so the order in
 * which chunks finish does not matter. */
#include "apk_digest.h"

#include <stdlib.h>
#include <string.h>

#include "../common/fileio.h"
#include "../java/zip_read.h"

#define ALL_SLOTS ((1u << CSOD_APK_RING) - 1)

/* Under the lock: the next queued chunk's slot, if any. */
static int take_chunk(csod_apk_digester *d, unsigned *slot)
{
	if (d->started == d->submitted)
		return 0;
	*slot = d->queue[d->started % CSOD_APK_RING];
	d->started++;
	return 1;
}

/* Hashes and writes the chunk in slot (taken, so no one else touches it),
 * then records the outcome and frees the slot. Called without the lock. */
static void run_chunk(csod_apk_digester *d, unsigned slot, EVP_MD_CTX *ctx, int write_back)
{
	const unsigned char *chunk = d->ring[slot];
	size_t len = d->ring_len[slot];
	unsigned char prefix[5] = {0xa5};
	unsigned char out[CSOD_APK_SHA256_BYTES];
	csod_put32(prefix + 1, (uint32_t)len);
	int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	         EVP_DigestUpdate(ctx, prefix, sizeof prefix) &&
	         EVP_DigestUpdate(ctx, chunk, len) && EVP_DigestFinal_ex(ctx, out, NULL);
	csod_error werr;
	int wrote = 1, fd = d->ring_fd[slot];
	if (fd >= 0) {
		wrote = csod_pwrite_all(fd, chunk, len, (off_t)d->ring_at[slot], &werr) == 0;
		if (wrote && write_back)
			csod_write_back(fd, &d->written_back, d->ring_at[slot] + len);
	}
	pthread_mutex_lock(&d->lock);
	size_t at = (size_t)d->ring_chunk[slot] * CSOD_APK_SHA256_BYTES;
	if (ok && d->digests.len < at + sizeof out) {
		unsigned char zero[CSOD_APK_SHA256_BYTES] = {0};
		while (!d->digests.oom && d->digests.len < at + sizeof out)
			csod_buf_add(&d->digests, zero, sizeof zero);
	}
	if (ok && !d->digests.oom)
		memcpy(d->digests.p + at, out, sizeof out);
	else
		d->failed = 1;
	if (!wrote && !d->write_failed) {
		d->write_err = werr;
		d->write_failed = 1;
	}
	d->busy &= ~(1u << slot);
	d->done++;
	pthread_cond_broadcast(&d->room);
	pthread_mutex_unlock(&d->lock);
}

static void *hash_chunks(void *arg)
{
	csod_apk_digester *d = arg;
	pthread_mutex_lock(&d->lock);
	for (;;) {
		unsigned slot;
		if (take_chunk(d, &slot)) {
			pthread_mutex_unlock(&d->lock);
			run_chunk(d, slot, d->ctx[0], 1);
			pthread_mutex_lock(&d->lock);
		} else if (d->stop) {
			break;
		} else {
			pthread_cond_wait(&d->work, &d->lock);
		}
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
	if (!(d->ctx[0] = EVP_MD_CTX_new()) || !(d->ctx[1] = EVP_MD_CTX_new()))
		return -1;
	d->threaded = pthread_create(&d->thread, NULL, hash_chunks, d) == 0;
	return 0;
}

/* Under the lock, until `until` holds: hashes a queued chunk if there is
 * one (instead of idling), else waits for one to finish. */
static void help_until(csod_apk_digester *d, int (*until)(const csod_apk_digester *))
{
	while (!until(d)) {
		unsigned slot;
		if (take_chunk(d, &slot)) {
			pthread_mutex_unlock(&d->lock);
			run_chunk(d, slot, d->ctx[1], 0);
			pthread_mutex_lock(&d->lock);
		} else {
			pthread_cond_wait(&d->room, &d->lock);
		}
	}
}

static int a_slot_is_free(const csod_apk_digester *d)
{
	return d->busy != ALL_SLOTS;
}

static int all_done(const csod_apk_digester *d)
{
	return d->done == d->submitted;
}

/* A free slot to fill: the lowest. */
static unsigned take_slot(csod_apk_digester *d)
{
	if (!d->threaded)
		return 0;
	pthread_mutex_lock(&d->lock);
	help_until(d, a_slot_is_free);
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
	if (d->oom || !d->ctx[1])
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
	d->filling = 0;
	pthread_mutex_lock(&d->lock);
	d->ring_chunk[s] = d->submitted;
	d->queue[d->submitted % CSOD_APK_RING] = s;
	d->submitted++;
	pthread_cond_signal(&d->work);
	if (!d->threaded) { /* hash it now: it is the only one queued */
		d->started++;
		pthread_mutex_unlock(&d->lock);
		run_chunk(d, s, d->ctx[1], 1);
		return;
	}
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
	if (d->threaded) {
		pthread_mutex_lock(&d->lock);
		help_until(d, all_done);
		pthread_mutex_unlock(&d->lock);
	}
	stop_thread(d);
	if (d->write_failed) {
		*err = d->write_err;
		return -1;
	}
	unsigned char prefix[5] = {0x5a};
	csod_put32(prefix + 1, (uint32_t)d->submitted);
	EVP_MD_CTX *ctx = d->ctx[1];
	if (d->failed || d->oom || !ctx || d->digests.oom ||
	    d->digests.len != d->submitted * CSOD_APK_SHA256_BYTES ||
	    !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, prefix, sizeof prefix) ||
	    !EVP_DigestUpdate(ctx, d->digests.p, d->digests.len) ||
	    !EVP_DigestFinal_ex(ctx, out, NULL))
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
	EVP_MD_CTX_free(d->ctx[0]);
	EVP_MD_CTX_free(d->ctx[1]);
	csod_big_free(d->ring[0], CSOD_APK_CHUNK);
	for (size_t i = 1; i < CSOD_APK_RING; i++)
		free(d->ring[i]);
	csod_buf_free(&d->digests);
	memset(d, 0, sizeof *d);
}
