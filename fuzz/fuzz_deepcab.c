/* libFuzzer target for the deep engine's cabinet reader and writer: the
 * tables and rules (names, duplicates, order, bombs), each folder unpacked
 * (stored or MSZIP), packed again and the cabinet written; what is written
 * must read back with the same files. Build: sh fuzz/build_deepcab.sh */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../signers/deep/deep_cab_read.h"
#include "../signers/deep/deep_cab_write.h"

static int memfd(void)
{
	return memfd_create("fuzz_deepcab", MFD_CLOEXEC);
}

/* Every folder unpacked and packed again, the cabinet written to out. */
static int rewrite(const csod_dcab *c, int out)
{
	csod_dcab_packed *p = calloc(c->cab.n_folders + 1u, sizeof *p);
	int rc = p ? 0 : -1;
	csod_error err;
	for (uint16_t i = 0; p && i < c->cab.n_folders; i++)
		p[i].data_fd = -1;
	for (uint16_t i = 0; rc == 0 && i < c->cab.n_folders; i++) {
		int content = memfd();
		p[i].data_fd = memfd();
		p[i].type = c->folders[i].type;
		rc = content < 0 || p[i].data_fd < 0 ? -1 : csod_dcab_unpack(c, i, content, &err);
		if (rc == 0)
			rc = csod_dcab_pack(content, c->folders[i].usize, &p[i], &err);
		if (content >= 0)
			close(content);
	}
	if (rc == 0)
		rc = csod_dcab_write(out, c, c->files, p, &err);
	for (uint16_t i = 0; p && i < c->cab.n_folders; i++)
		if (p[i].data_fd >= 0)
			close(p[i].data_fd);
	free(p);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd(), out = memfd();
	csod_dcab c, again;
	csod_error err;
	if (fd >= 0 && out >= 0 && write(fd, data, size) == (ssize_t)size &&
	    csod_dcab_open(&c, fd, 1 << 24, &err) == 0) {
		if (rewrite(&c, out) == 0) {
			if (csod_dcab_open(&again, out, 1 << 24, &err) != 0) {
				fprintf(stderr, "rewritten cabinet: %s\n", err.msg);
				abort(); /* what we write must read back */
			}
			if (again.cab.n_files != c.cab.n_files)
				abort();
			csod_dcab_close(&again);
		}
		csod_dcab_close(&c);
	}
	if (fd >= 0)
		close(fd);
	if (out >= 0)
		close(out);
	return 0;
}
