/* libFuzzer target: the cabinet parser (CFHEADER, CFFOLDER, CFFILE, CFDATA
 * chains) that CAB signing relies on. */
#include <stddef.h>
#include <stdint.h>

#include "../signers/authenticode/cab_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	csod_cab cab;
	csod_error err;
	csod_cab_parse_buffer(data, size, &cab, &err);
	return 0;
}
