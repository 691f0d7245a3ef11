/* libFuzzer target for the binary AndroidManifest.xml reader (axml.h): the
 * apk engine parses this from untrusted APKs to choose its signature
 * schemes. A result must make sense; anything else must be refused, never
 * read outside the input. Build: sh fuzz/build_axml.sh */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../signers/android/axml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	csod_axml_sdk sdk;
	csod_error err;
	if (csod_axml_read_sdk(data, size, &sdk, &err) == 0 && sdk.min_sdk < 1)
		abort();
	/* The codename table, on the input as a string. */
	char name[64];
	size_t n = size < sizeof name - 1 ? size : sizeof name - 1;
	memcpy(name, data, n);
	name[n] = '\0';
	int v = csod_axml_codename_sdk(name);
	if (v == 0 || v < -1)
		abort();
	return 0;
}
