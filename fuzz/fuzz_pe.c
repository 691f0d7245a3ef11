/* libFuzzer target: the PE header parser Authenticode relies on. */
#include <stddef.h>
#include <stdint.h>

#include "../signers/authenticode/pe_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	csod_pe pe;
	csod_error err;
	csod_pe_parse_buffer(data, size, &pe, &err);
	return 0;
}
