/* The chunked v2/v3 digest, hashed on a second thread; see apk_digest.h. */
#include "apk_digest.h"

#include <string.h>

#include "../java/zip_read.h"

/* The thread takes chunk `hashed` when it is below `submitted`; the
 * caller fills slot `submitted % CSOD_APK_RING` once the chunk that last
 * used that slot is hashed. Both counters change under the lock. */

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

static void *hash_chunks(void *arg)
{
	csod_apk_digester *d = arg;
	pthread_mutex_lock(&d->lock);
	for (;;) {
		while (d->hashed == d->submitted && !d->stop)
			pthread_cond_wait(&d->work, &d->lock);
		if (d->hashed == d->submitted)
			break; /* stopped, nothing left */
		size_t slot = (size_t)(d->hashed % CSOD_APK_RING);
		const unsigned char *chunk = d->ring[slot];
		size_t len = d->ring_len[slot];
		pthread_mutex_unlock(&d->lock);
		int ok = hash_chunk(d, chunk, len);
		pthread_mutex_lock(&d->lock);
		if (!ok)
			d->failed = 1;
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
	if (!(d->ctx = EVP_MD_CTX_new()))
		return -1;
	d->threaded = pthread_create(&d->thread, NULL, hash_chunks, d) == 0;
	return 0;
}

static size_t current_slot(const csod_apk_digester *d)
{
	return d->threaded ? (size_t)(d->submitted % CSOD_APK_RING) : 0;
}

/* The chunk being filled, waiting for its slot when a new one starts. */
static unsigned char *current(csod_apk_digester *d)
{
	if (d->oom || !d->ctx)
		return NULL;
	size_t slot = current_slot(d);
	if (d->fill == 0 && d->threaded) {
		pthread_mutex_lock(&d->lock);
		while (d->submitted - d->hashed >= CSOD_APK_RING)
			pthread_cond_wait(&d->room, &d->lock);
		pthread_mutex_unlock(&d->lock);
	}
	if (!d->ring[slot] && !(d->ring[slot] = csod_big_alloc(CSOD_APK_CHUNK)))
		d->oom = 1;
	return d->ring[slot];
}

/* Hands the filled chunk over (or hashes it here, without a thread). */
static void submit(csod_apk_digester *d)
{
	if (d->fill == 0)
		return;
	size_t slot = current_slot(d);
	d->ring_len[slot] = d->fill;
	d->fill = 0;
	if (!d->threaded) {
		if (!hash_chunk(d, d->ring[slot], d->ring_len[slot]))
			d->failed = 1;
		d->submitted++;
		d->hashed++;
		return;
	}
	pthread_mutex_lock(&d->lock);
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

int csod_apk_digester_finish(csod_apk_digester *d, unsigned char out[CSOD_APK_SHA256_BYTES])
{
	submit(d);
	stop_thread(d);
	unsigned char prefix[5] = {0x5a};
	csod_put32(prefix + 1, (uint32_t)d->submitted);
	if (d->failed || d->oom || !d->ctx || d->digests.oom ||
	    !EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(d->ctx, prefix, sizeof prefix) ||
	    !EVP_DigestUpdate(d->ctx, d->digests.p, d->digests.len) ||
	    !EVP_DigestFinal_ex(d->ctx, out, NULL))
		return -1;
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
	for (size_t i = 0; i < CSOD_APK_RING; i++)
		csod_big_free(d->ring[i], CSOD_APK_CHUNK);
	csod_buf_free(&d->digests);
	memset(d, 0, sizeof *d);
}
