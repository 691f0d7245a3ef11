/* One pass over a dropped file: copy it into the store and hash it.
 *
 * MD5 is the slowest of the three digests (about 600 MB/s against 1.4 GB/s
 * for SHA-1 and SHA-256 with the CPU's SHA instructions), so for a large
 * file it runs on a second thread over the same buffers while this one
 * computes the other two and writes: a ring of RING buffers, each read
 * once, handed to the MD5 thread, and reused only once that thread is done
 * with it. Memory stays RING × COPY_CHUNK whatever the file's size. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "intake.h"

#define COPY_CHUNK (1 << 20)
#define RING       4
/* Below this a thread costs more than it saves. */
#define PARALLEL_FROM (8 << 20)

typedef struct md5_ring {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	unsigned char *buf[RING];
	ssize_t len[RING];
	long filled;   /* buffers read so far */
	long consumed; /* buffers the MD5 thread has hashed */
	int eof;       /* no buffer follows `filled` */
	EVP_MD_CTX *ctx;
} md5_ring;

static void *md5_main(void *arg)
{
	md5_ring *r = arg;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (r->consumed == r->filled && !r->eof)
			pthread_cond_wait(&r->changed, &r->lock);
		if (r->consumed == r->filled)
			break;
		int slot = (int)(r->consumed % RING);
		pthread_mutex_unlock(&r->lock);
		EVP_DigestUpdate(r->ctx, r->buf[slot], (size_t)r->len[slot]);
		pthread_mutex_lock(&r->lock);
		r->consumed++;
		pthread_cond_broadcast(&r->changed);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void hex(const unsigned char *md, unsigned len, char *out)
{
	for (unsigned i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int write_all(int fd, const unsigned char *p, ssize_t n)
{
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(fd, p + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		off += w;
	}
	return 0;
}

static void finish_digest(EVP_MD_CTX *ctx, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_DigestFinal_ex(ctx, md, &len);
	hex(md, len, out);
}

int csod_copy_and_hash(int in_fd, int out_fd, int64_t max, csod_file *f,
                       void (*progress)(void *ctx, int64_t done), void *progress_ctx,
                       csod_error *err)
{
	const EVP_MD *types[3] = {EVP_md5(), EVP_sha1(), EVP_sha256()};
	char *outs[3] = {f->md5, f->sha1, f->sha256};
	EVP_MD_CTX *ctx[3] = {NULL, NULL, NULL};
	md5_ring ring = {.filled = 0};
	pthread_t md5_thread;
	int threaded = 0, rc = -1;
	struct stat st;
	pthread_mutex_init(&ring.lock, NULL);
	pthread_cond_init(&ring.changed, NULL);
	for (int i = 0; i < RING; i++)
		if (!(ring.buf[i] = malloc(COPY_CHUNK))) {
			csod_fail(err, "%s: out of memory", f->name);
			goto out;
		}
	for (int i = 0; i < 3; i++) {
		ctx[i] = EVP_MD_CTX_new();
		if (!ctx[i] || !EVP_DigestInit_ex(ctx[i], types[i], NULL)) {
			csod_fail_ssl(err, "%s: cannot hash", f->name);
			goto out;
		}
	}
	ring.ctx = ctx[0];
	if (fstat(in_fd, &st) == 0 && st.st_size >= PARALLEL_FROM)
		threaded = pthread_create(&md5_thread, NULL, md5_main, &ring) == 0;
	int64_t total = 0;
	for (long i = 0;; i++) {
		int slot = (int)(i % RING);
		/* The MD5 thread must be done with this buffer's last use. */
		pthread_mutex_lock(&ring.lock);
		while (threaded && i - ring.consumed >= RING)
			pthread_cond_wait(&ring.changed, &ring.lock);
		pthread_mutex_unlock(&ring.lock);
		ssize_t n = read(in_fd, ring.buf[slot], COPY_CHUNK);
		if (n < 0 && errno == EINTR) {
			i--;
			continue;
		}
		if (n < 0) {
			csod_fail_errno(err, "%s: cannot read", f->name);
			goto out;
		}
		if (n == 0)
			break;
		total += n;
		if (max > 0 && total > max) {
			csod_fail(err, "%s: larger than max_file_size (%lld bytes)", f->name,
			          (long long)max);
			goto out;
		}
		if (threaded) {
			pthread_mutex_lock(&ring.lock);
			ring.len[slot] = n;
			ring.filled = i + 1;
			pthread_cond_broadcast(&ring.changed);
			pthread_mutex_unlock(&ring.lock);
		} else {
			EVP_DigestUpdate(ctx[0], ring.buf[slot], (size_t)n);
		}
		EVP_DigestUpdate(ctx[1], ring.buf[slot], (size_t)n);
		EVP_DigestUpdate(ctx[2], ring.buf[slot], (size_t)n);
		if (write_all(out_fd, ring.buf[slot], n) < 0) {
			csod_fail_errno(err, "%s: cannot write to the store", f->name);
			goto out;
		}
		if (progress)
			progress(progress_ctx, total);
	}
	f->size = total;
	if (fsync(out_fd) < 0) {
		csod_fail_errno(err, "%s: cannot fsync the store copy", f->name);
		goto out;
	}
	rc = 0;
out:
	if (threaded) {
		pthread_mutex_lock(&ring.lock);
		ring.eof = 1;
		pthread_cond_broadcast(&ring.changed);
		pthread_mutex_unlock(&ring.lock);
		pthread_join(md5_thread, NULL);
	}
	if (rc == 0)
		for (int i = 0; i < 3; i++)
			finish_digest(ctx[i], outs[i]);
	for (int i = 0; i < 3; i++)
		EVP_MD_CTX_free(ctx[i]);
	for (int i = 0; i < RING; i++)
		free(ring.buf[i]);
	pthread_mutex_destroy(&ring.lock);
	pthread_cond_destroy(&ring.changed);
	return rc;
}
