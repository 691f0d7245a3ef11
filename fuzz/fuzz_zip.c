/* libFuzzer target for the ZIP central directory reader, entry inflation
 * and the manifest parser: the parsing the jar and apk engines do on
 * untrusted archives before any signing, and the deep engine's rules for
 * a ZIP drop. Build: sh fuzz/build_zip.sh */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../signers/deep/deep_entry.h"
#include "../signers/java/manifest.h"
#include "../signers/java/zip_read.h"

static void parse_manifest(const unsigned char *data, size_t len)
{
	csod_manifest m;
	csod_error err;
	if (csod_mf_parse(&m, data, len, "fuzz", &err) < 0)
		return;
	csod_buf out = {0};
	csod_mf_emit(&m, &out);
	if (m.n_sections)
		csod_mf_set(&m.sections[0], "SHA-256-Digest", "x");
	csod_mf_emit(&m, &out);
	csod_buf_free(&out);
	csod_mf_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_manifest(data, size);
	int fd = memfd_create("fuzz_zip", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	csod_zip z;
	csod_error err;
	if (csod_zip_open(&z, fd, "fuzz", &err) == 0) {
		for (size_t i = 0; i < z.n_entries && i < 64; i++)
			csod_zip_read_entry(&z, &z.entries[i], NULL, NULL, &err);
		long mi = csod_zip_find(&z, "META-INF/MANIFEST.MF");
		unsigned char *mf = NULL;
		size_t len = 0;
		if (mi >= 0 &&
		    csod_zip_read_small(&z, &z.entries[mi], 1 << 20, &mf, &len, &err) == 0)
			parse_manifest(mf, len);
		free(mf);
		csod_zip_close(&z);
	}
	/* The deep engine's own rules for a ZIP drop, on top of the reader's. */
	if (csod_deep_open(&z, fd, 1 << 20, &err) == 0)
		csod_zip_close(&z);
	close(fd);
	return 0;
}
