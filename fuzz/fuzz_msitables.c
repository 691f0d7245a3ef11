/* libFuzzer target for the MSI table reader of deep signing: the string
 * pool, _Columns and the File and MsiFileHash tables read from a compound
 * file and rewritten for a signed file keyed "f1" (wixl's first file), the
 * File table's keys and names, and
 * an MSI stream name encoded. Build: sh fuzz/build_msitables.sh */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../signers/common/fileio.h"
#include "../signers/deep/deep_msi_tables.h"

static void seen(void *ctx, const char *key, const char *name)
{
	(void)ctx;
	if (strlen(key) >= CSOD_MSI_NAME_MAX || strlen(name) >= CSOD_MSI_NAME_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-msitables", MFD_CLOEXEC);
	csod_error err;
	if (fd < 0)
		return 0;
	csod_cfb c;
	if (csod_pwrite_all(fd, data, size, 0, &err) == 0 && csod_cfb_open(&c, fd, &err) == 0) {
		csod_msi_file_fix fix = {"f1", 12345, {1, 2, 3}};
		csod_msi_table_out out[2];
		size_t n = 0;
		if (csod_msi_fix_tables(&c, &fix, 1, out, &n, &err) == 0)
			for (size_t i = 0; i < n; i++)
				free(out[i].data);
		csod_msi_file_names(&c, seen, NULL, &err);
		csod_cfb_close(&c);
	}
	unsigned char name[64];
	char text[40];
	size_t len = size < sizeof text - 1 ? size : sizeof text - 1;
	for (size_t i = 0; i < len; i++)
		text[i] = data[i] ? (char)data[i] : 'x';
	text[len] = '\0';
	csod_msi_stream_name(text, size & 1, name);
	close(fd);
	return 0;
}
