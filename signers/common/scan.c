#include "scan.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define SCAN_RING 3

/* Chunk i lives in buf[i % SCAN_RING] from when the reader has read it
 * (filled > i) until the hasher is done with it (consumed > i). */
typedef struct ring {
	const csod_scan *s;
	unsigned char *buf[SCAN_RING];
	size_t len[SCAN_RING];
	uint64_t pos[SCAN_RING];
	uint64_t filled, consumed;
	int done, failed;
	int stopped; /* the calling thread's after_hash failed: read no more */
	csod_error err;
	pthread_mutex_t lock;
	pthread_cond_t changed;
} ring;

/* Reads the chunk at pos and hands it to on_chunk: its length, or -1. */
static ssize_t read_chunk(const csod_scan *s, unsigned char *buf, uint64_t pos, csod_error *err)
{
	size_t want = s->to - pos < CSOD_SCAN_CHUNK ? (size_t)(s->to - pos) : CSOD_SCAN_CHUNK;
	ssize_t n;
	do
		n = pread(s->fd, buf, want, (off_t)pos);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return csod_fail_errno(err, "cannot read the file");
	if (n == 0)
		return csod_fail(err, "the file is shorter than its headers say");
	if (s->on_chunk && s->on_chunk(s->ctx, buf, pos, (size_t)n, err) < 0)
		return -1;
	return n;
}

/* Feeds the digests what of the file's bytes [pos, pos + len) is hashed:
 * before hash_end and outside the holes. */
static void hash_chunk(const csod_scan *s, const unsigned char *buf, uint64_t pos, size_t len)
{
	uint64_t at = pos, end = pos + len < s->hash_end ? pos + len : s->hash_end;
	while (at < end) {
		uint64_t hole = end, hole_end = end; /* the first hole that meets [at, end) */
		for (int h = 0; h < CSOD_SCAN_HOLES; h++) {
			uint64_t a = s->hole_at[h], b = a + s->hole_len[h];
			if (s->hole_len[h] && b > at && a < end && a < hole) {
				hole = a;
				hole_end = b;
			}
		}
		if (hole > at)
			for (int k = 0; k < s->n_md; k++)
				EVP_DigestUpdate(s->md[k], buf + (at - pos), (size_t)(hole - at));
		at = hole_end > hole ? hole_end : end;
	}
}

static void *reader(void *arg)
{
	ring *r = arg;
	uint64_t pos = r->s->from;
	for (uint64_t i = 0; pos < r->s->to; i++) {
		pthread_mutex_lock(&r->lock);
		while (i - r->consumed >= SCAN_RING && !r->stopped)
			pthread_cond_wait(&r->changed, &r->lock);
		int stopped = r->stopped;
		pthread_mutex_unlock(&r->lock);
		if (stopped)
			break;
		int slot = (int)(i % SCAN_RING);
		csod_error err;
		ssize_t n = read_chunk(r->s, r->buf[slot], pos, &err);
		pthread_mutex_lock(&r->lock);
		if (n < 0) {
			r->failed = 1;
			r->err = err;
		} else {
			r->len[slot] = (size_t)n;
			r->pos[slot] = pos;
			r->filled++;
		}
		pthread_cond_broadcast(&r->changed);
		pthread_mutex_unlock(&r->lock);
		if (n < 0)
			break;
		pos += (uint64_t)n;
	}
	pthread_mutex_lock(&r->lock);
	r->done = 1;
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* The same on the calling thread alone. */
static int run_alone(const csod_scan *s, unsigned char *buf, csod_error *err)
{
	for (uint64_t pos = s->from; pos < s->to;) {
		ssize_t n = read_chunk(s, buf, pos, err);
		if (n < 0)
			return -1;
		hash_chunk(s, buf, pos, (size_t)n);
		if (s->after_hash && s->after_hash(s->ctx, buf, pos, (size_t)n, err) < 0)
			return -1;
		pos += (uint64_t)n;
		if (s->progress)
			s->progress(s->progress_ctx, pos - s->from);
	}
	return 0;
}

static int run_threaded(ring *r, pthread_t thread, csod_error *err)
{
	int rc = 0;
	for (;;) {
		pthread_mutex_lock(&r->lock);
		while (r->consumed == r->filled && !r->done)
			pthread_cond_wait(&r->changed, &r->lock);
		int drained = r->consumed == r->filled;
		pthread_mutex_unlock(&r->lock);
		if (drained)
			break;
		int slot = (int)(r->consumed % SCAN_RING);
		hash_chunk(r->s, r->buf[slot], r->pos[slot], r->len[slot]);
		if (r->s->after_hash && r->s->after_hash(r->s->ctx, r->buf[slot], r->pos[slot],
		                                         r->len[slot], err) < 0) {
			pthread_mutex_lock(&r->lock);
			r->stopped = 1;
			pthread_cond_broadcast(&r->changed);
			pthread_mutex_unlock(&r->lock);
			rc = -1;
			break;
		}
		if (r->s->progress)
			r->s->progress(r->s->progress_ctx,
			               r->pos[slot] + r->len[slot] - r->s->from);
		pthread_mutex_lock(&r->lock);
		r->consumed++;
		pthread_cond_broadcast(&r->changed);
		pthread_mutex_unlock(&r->lock);
	}
	pthread_join(thread, NULL);
	if (rc == 0 && r->failed)
		return csod_fail(err, "%s", r->err.msg);
	return rc;
}

int csod_scan_run(const csod_scan *s, csod_error *err)
{
	ring *r = calloc(1, sizeof *r);
	int rc = -1;
	if (!r)
		return csod_fail(err, "out of memory");
	r->s = s;
	for (int i = 0; i < SCAN_RING; i++)
		if (!(r->buf[i] = malloc(CSOD_SCAN_CHUNK))) {
			csod_fail(err, "out of memory");
			goto out;
		}
	pthread_t thread;
	if (pthread_mutex_init(&r->lock, NULL) != 0) {
		rc = run_alone(s, r->buf[0], err);
		goto out;
	}
	if (pthread_cond_init(&r->changed, NULL) != 0) {
		rc = run_alone(s, r->buf[0], err);
	} else {
		if (pthread_create(&thread, NULL, reader, r) == 0)
			rc = run_threaded(r, thread, err);
		else
			rc = run_alone(s, r->buf[0], err);
		pthread_cond_destroy(&r->changed);
	}
	pthread_mutex_destroy(&r->lock);
out:
	for (int i = 0; i < SCAN_RING; i++)
		free(r->buf[i]);
	free(r);
	return rc;
}

int csod_scan_start(EVP_MD_CTX **ctx, const EVP_MD *const *mds, int n, csod_error *err)
{
	for (int k = 0; k < n; k++)
		ctx[k] = NULL;
	for (int k = 0; k < n; k++)
		if (!(ctx[k] = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(ctx[k], mds[k], NULL)) {
			csod_scan_finish(ctx, k + 1, NULL, NULL, err);
			return csod_fail(err, "cannot start the %s hash", EVP_MD_get0_name(mds[k]));
		}
	return 0;
}

int csod_scan_finish(EVP_MD_CTX **ctx, int n, unsigned char (*out)[EVP_MAX_MD_SIZE],
                     unsigned *out_len, csod_error *err)
{
	int rc = 0;
	for (int k = 0; k < n; k++) {
		if (out && rc == 0 && !EVP_DigestFinal_ex(ctx[k], out[k], &out_len[k]))
			rc = csod_fail(err, "the %s hash failed",
			               EVP_MD_get0_name(EVP_MD_CTX_get0_md(ctx[k])));
		EVP_MD_CTX_free(ctx[k]);
		ctx[k] = NULL;
	}
	return rc;
}
