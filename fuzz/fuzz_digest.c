/* libFuzzer target: the hash service's digest-file parser, one digest and lists. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../signers/hash/digest_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	csod_parsed_digest d;
	csod_error err;
	csod_digest_parse((const char *)data, size, "x.sha256", &d, &err);
	csod_digest_parse((const char *)data, size, NULL, &d, &err);
	csod_digest_line *lines = NULL;
	int n = 0;
	if (csod_digest_list((const char *)data, size, "x.sha256", &lines, &n, &err) == 0)
		free(lines);
	return 0;
}
