/* libFuzzer target: what csodd reads from clamd (its reply to INSTREAM,
 * which a compromised or confused clamd controls) and the host:port form
 * of checks.clamav.tcp. A reply must never read as clean unless it is
 * exactly "stream: OK". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../daemon/clamd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *reply = malloc(size + 1), sig[128], host[256], port[8];
	if (!reply)
		return 0;
	memcpy(reply, data, size);
	reply[size] = '\0';
	int exact = strcmp(reply, "stream: OK") == 0;
	csod_error err;
	if (csod_clamd_parse_reply(reply, sig, sizeof sig, &err) == CSOD_CLAMD_CLEAN && !exact)
		abort();
	memcpy(reply, data, size);
	reply[size] = '\0';
	csod_clamd_tcp_split(reply, host, sizeof host, port, sizeof port);
	free(reply);
	return 0;
}
