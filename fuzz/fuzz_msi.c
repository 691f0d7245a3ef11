/* libFuzzer target: the compound-file (MSI) reader, and on what it
 * accepts the MSI hash and the writer, which rely on its checks. The
 * reader works on a descriptor, so the input goes into a memfd. */
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../signers/authenticode/cfb.h"
#include "../signers/common/fileio.h"
#include "../signers/authenticode/msi_hash.h"

static int memfd_with(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-msi", MFD_CLOEXEC);
	csod_error err;
	if (fd >= 0 && csod_pwrite_all(fd, data, size, 0, &err) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_with(data, size);
	if (fd < 0)
		return 0;
	csod_cfb c;
	csod_error err;
	if (csod_cfb_open(&c, fd, &err) == 0) {
		unsigned char digest[EVP_MAX_MD_SIZE];
		unsigned len = 0;
		csod_msi_hash(&c, EVP_sha256(), NULL, 0, digest, &len, &err);
		csod_msi_prehash(&c, EVP_sha256(), digest, &len, &err);
		int out = memfd_create("fuzz-msi-out", MFD_CLOEXEC);
		static const unsigned char sig[300] = {0x30};
		csod_cfb_new_stream add = {csod_msi_signature_name,
		                           sizeof csod_msi_signature_name,
		                           sig,
		                           sizeof sig,
		                           0,
		                           -1};
		uint32_t drop =
		    csod_cfb_find(&c, 0, csod_msi_signature_name, sizeof csod_msi_signature_name);
		if (out >= 0) {
			csod_cfb_write(out, &c, &drop, 1, &add, 1, &err);
			close(out);
		}
		csod_cfb_close(&c);
	}
	close(fd);
	return 0;
}
