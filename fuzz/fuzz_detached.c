/* libFuzzer target: what csod-sign --attach-signature and the engines'
 * extract_signature take as a detached Authenticode signature (a DER
 * PKCS#7 SignedData, maybe padded). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../signers/authenticode/detached.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	csod_error err;
	unsigned char *der = NULL;
	size_t len = 0;
	csod_detached_check(data, size, &err);
	if (csod_detached_take(data, size, &der, &len, &err) == 0 &&
	    (len > size || csod_detached_check(der, len, &err) < 0))
		abort(); /* what is taken must be what attach takes */
	free(der);
	return 0;
}
