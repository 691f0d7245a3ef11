/* Growing byte buffer; see bytebuf.h. */
#include "bytebuf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void csod_buf_add(csod_buf *b, const void *data, size_t len)
{
	if (b->oom || len == 0)
		return;
	if (len > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap - b->len < len) {
			if (cap > SIZE_MAX / 2) {
				b->oom = 1;
				return;
			}
			cap *= 2;
		}
		unsigned char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

void csod_buf_str(csod_buf *b, const char *s)
{
	csod_buf_add(b, s, strlen(s));
}

void csod_buf_u32(csod_buf *b, uint32_t v)
{
	unsigned char t[4];
	for (int i = 0; i < 4; i++)
		t[i] = (unsigned char)(v >> (8 * i));
	csod_buf_add(b, t, 4);
}

void csod_buf_u64(csod_buf *b, uint64_t v)
{
	unsigned char t[8];
	for (int i = 0; i < 8; i++)
		t[i] = (unsigned char)(v >> (8 * i));
	csod_buf_add(b, t, 8);
}

size_t csod_buf_lp_begin(csod_buf *b)
{
	size_t mark = b->len;
	csod_buf_u32(b, 0);
	return mark;
}

void csod_buf_lp_end(csod_buf *b, size_t mark)
{
	if (b->oom)
		return;
	uint32_t v = (uint32_t)(b->len - mark - 4);
	for (int i = 0; i < 4; i++)
		b->p[mark + i] = (unsigned char)(v >> (8 * i));
}

void csod_buf_free(csod_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

void *csod_big_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void csod_big_free(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}
