/* libFuzzer target for what the MSIX/APPX engine reads from an untrusted
 * package before signing: the manifest's publisher, the block map's hash
 * method, the publisher as a distinguished name, the content types, and
 * the package itself (ZIP, required entries, streaming hashes, the block
 * map against the files).
 * Build: sh fuzz/build_appx.sh */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../signers/authenticode/appx_blockmap.h"
#include "../signers/authenticode/appx_package.h"

static void parse_xml(const char *data, size_t len)
{
	char pub[CSOD_APPX_NAME_MAX], canon[CSOD_APPX_NAME_MAX];
	csod_error err;
	if (csod_appx_publisher(data, len, pub, sizeof pub, &err) == 0)
		csod_appx_publisher_canonical(pub, canon, sizeof canon, &err);
	csod_appx_hash_method(data, len, &err);
	unsigned char *ct = NULL;
	size_t ct_len = 0;
	if (csod_appx_content_types_signed(data, len, &ct, &ct_len, &err) == 0)
		free(ct);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_xml((const char *)data, size);
	/* The whole input as a distinguished name, too. */
	char *name = malloc(size + 1);
	if (name) {
		memcpy(name, data, size);
		name[size] = 0;
		char canon[CSOD_APPX_NAME_MAX];
		csod_error err;
		csod_appx_publisher_canonical(name, canon, sizeof canon, &err);
		free(name);
	}
	int fd = memfd_create("fuzz_appx", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		csod_appx a;
		csod_error err;
		if (csod_appx_open(&a, fd, "fuzz", &err) == 0) {
			csod_appx_check_block_map(&a, &err);
			csod_appx_close(&a);
		}
	}
	close(fd);
	return 0;
}
