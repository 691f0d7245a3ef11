/* The compound-file writer on shapes wixl does not make: hundreds of
 * siblings (the red-black tree must stay valid), streams at every size
 * boundary of the mini stream, enough data for DIFAT sectors, both sector
 * sizes. The reader, which checks every chain, reads each stream back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../signers/authenticode/cfb.h"

#define N_STREAMS 300

static const unsigned char root_name[] = {'R', 0,   'o', 0,   'o', 0,   't', 0,   ' ', 0, 'E',
                                          0,   'n', 0,   't', 0,   'r', 0,   'y', 0,   0, 0};

/* A source compound file with nothing but its root storage. */
static void empty_source(csod_cfb *c, uint32_t sector_size, uint32_t *kids_start, uint32_t *kids,
                         csod_cfb_entry *root)
{
	memset(c, 0, sizeof *c);
	memset(root, 0, sizeof *root);
	memcpy(root->raw, root_name, sizeof root_name);
	root->name_len = sizeof root_name;
	root->type = CFB_TYPE_ROOT;
	root->reachable = 1;
	root->parent = CFB_NOSTREAM;
	c->dir = root;
	c->n_dir = 1;
	c->kids = kids;
	c->kids_start = kids_start;
	c->sector_size = sector_size;
	c->major = sector_size == 4096 ? 4 : 3;
}

static size_t size_of(int i)
{
	static const size_t edges[] = {0, 1, 63, 64, 65, 4095, 4096, 4097, 511, 512, 513};
	if (i < (int)(sizeof edges / sizeof edges[0]))
		return edges[i];
	if (i == N_STREAMS - 1)
		return 8u << 20; /* > 109 FAT sectors at 512 bytes: DIFAT */
	return (size_t)(i * 37) % 9000;
}

typedef struct collect {
	unsigned char *p;
	size_t len;
} collect;

static int gather(void *ctx, const unsigned char *p, size_t n, csod_error *err)
{
	(void)err;
	collect *c = ctx;
	memcpy(c->p + c->len, p, n);
	c->len += n;
	return 0;
}

/* Black height of the subtree at id, or -1 if it breaks a red-black rule. */
static int black_height(const csod_cfb *c, uint32_t id, int parent_red)
{
	if (id == CFB_NOSTREAM)
		return 1;
	int red = c->dir[id].raw[0x43] == 0;
	if (red && parent_red)
		return -1;
	int l = black_height(c, c->dir[id].left, red), r = black_height(c, c->dir[id].right, red);
	if (l < 0 || r < 0 || l != r)
		return -1;
	return l + !red;
}

static void write_and_read_back(uint32_t sector_size)
{
	static unsigned char names[N_STREAMS][16];
	csod_cfb_new_stream add[N_STREAMS];
	unsigned char *data[N_STREAMS];
	for (int i = 0; i < N_STREAMS; i++) {
		char ascii[8];
		int n = snprintf(ascii, sizeof ascii, "s%d", i);
		memset(names[i], 0, sizeof names[i]);
		for (int k = 0; k < n; k++)
			names[i][2 * k] = (unsigned char)ascii[k];
		size_t len = size_of(i);
		data[i] = malloc(len + 1);
		for (size_t k = 0; k < len; k++)
			data[i][k] = (unsigned char)(k * 7 + (size_t)i);
		add[i] = (csod_cfb_new_stream){names[i], (size_t)(2 * n + 2), data[i], len, 0, -1};
		if (i % 3 == 2) { /* from a file, as a deep-signed MSI's cabinet is */
			add[i].from_fd = 1;
			add[i].fd = memfd_create("cfb-stream", 0);
			assert_true(add[i].fd >= 0);
			assert_int_equal(pwrite(add[i].fd, data[i], len, 0), (ssize_t)len);
		}
	}
	csod_cfb src;
	csod_cfb_entry root;
	uint32_t kids_start[2] = {0, 0}, kids[1] = {0};
	empty_source(&src, sector_size, kids_start, kids, &root);
	int fd = memfd_create("cfb-test", 0);
	assert_true(fd >= 0);
	csod_error err;
	assert_int_equal(csod_cfb_write(fd, &src, NULL, 0, add, N_STREAMS, &err), 0);

	csod_cfb c;
	if (csod_cfb_open(&c, fd, &err) < 0)
		fail_msg("the written file does not read back: %s", err.msg);
	assert_int_equal(c.sector_size, sector_size);
	uint32_t n;
	csod_cfb_children(&c, 0, &n);
	assert_int_equal(n, N_STREAMS);
	assert_true(black_height(&c, c.dir[0].child, 0) > 0);
	assert_int_equal(c.dir[0].raw[0x43], 1); /* the root entry is black */
	for (int i = 0; i < N_STREAMS; i++) {
		uint32_t id = csod_cfb_find(&c, 0, add[i].name, add[i].name_len);
		assert_int_not_equal(id, CFB_NOSTREAM);
		collect got = {malloc(add[i].len + 1), 0};
		assert_int_equal(csod_cfb_read_stream(&c, id, gather, &got, &err), 0);
		assert_int_equal(got.len, add[i].len);
		assert_memory_equal(got.p, data[i], add[i].len);
		free(got.p);
		free(data[i]);
		if (add[i].from_fd)
			close(add[i].fd);
	}
	if (sector_size == 512) {
		unsigned char h[512];
		assert_int_equal(pread(fd, h, sizeof h, 0), 512);
		assert_true(h[0x48] > 0); /* DIFAT sectors were needed */
	}
	csod_cfb_close(&c);
	close(fd);
}

static void test_v3_512(void **state)
{
	(void)state;
	write_and_read_back(512);
}

static void test_v4_4096(void **state)
{
	(void)state;
	write_and_read_back(4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v3_512),
	    cmocka_unit_test(test_v4_4096),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
