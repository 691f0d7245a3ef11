/* libFuzzer target: the security catalog parser (the PKCS#7 SignedData and
 * the certificate trust list inside it) that catalog signing relies on. */
#include <stddef.h>
#include <stdint.h>

#include "../signers/authenticode/cat_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	csod_cat cat;
	csod_error err;
	csod_cat_sniff(data, size);
	if (csod_cat_parse_buffer(data, size, &cat, &err) == 0)
		csod_cat_free(&cat);
	return 0;
}
