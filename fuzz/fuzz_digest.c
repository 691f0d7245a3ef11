/* libFuzzer target: the hash service's digest-file parser. */
#include <stddef.h>
#include <stdint.h>

#include "../signers/hash/digest_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	csod_parsed_digest d;
	csod_error err;
	csod_digest_parse((const char *)data, size, "x.sha256", &d, &err);
	csod_digest_parse((const char *)data, size, NULL, &d, &err);
	return 0;
}
