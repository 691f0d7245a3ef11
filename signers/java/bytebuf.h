/* A growing byte buffer for the small things the ZIP engines build in memory
 * (manifest, .SF, signature blocks, central directory). An allocation
 * failure sets oom and later appends do nothing, so builders check once at
 * the end. */
#ifndef CSOD_BYTEBUF_H
#define CSOD_BYTEBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct csod_buf {
	unsigned char *p;
	size_t len, cap;
	int oom;
} csod_buf;

void csod_buf_add(csod_buf *b, const void *data, size_t len);
void csod_buf_str(csod_buf *b, const char *s);
void csod_buf_u32(csod_buf *b, uint32_t v);
void csod_buf_u64(csod_buf *b, uint64_t v);
/* Starts a u32 length prefix; csod_buf_lp_end fills it with the length of
 * what was appended since. */
size_t csod_buf_lp_begin(csod_buf *b);
void csod_buf_lp_end(csod_buf *b, size_t mark);
void csod_buf_free(csod_buf *b);

/* A large I/O or chunk buffer (hundreds of KB to a megabyte), mapped with
 * its pages already present: touching a fresh malloc'ed megabyte page by
 * page costs more than the hashing that fills it (a fault per 4 KB).
 * NULL when out of memory. */
void *csod_big_alloc(size_t len);
void csod_big_free(void *p, size_t len);

#endif
