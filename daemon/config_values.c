/* Durations and sizes as people write them in csod.conf. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

/* Parses "<number><unit>" where unit is one of units[i].suffix; plain numbers
 * take the multiplier of the empty suffix. -1 on garbage or overflow. */
static int64_t parse_scaled(const char *text, const char *const *suffixes,
                            const int64_t *multipliers, size_t n)
{
	if (!text)
		return -1;
	while (isspace((unsigned char)*text))
		text++;
	if (!isdigit((unsigned char)*text))
		return -1;
	errno = 0;
	char *end;
	long long value = strtoll(text, &end, 10);
	if (errno || value < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(end, suffixes[i]) != 0)
			continue;
		if (multipliers[i] > 1 && value > INT64_MAX / multipliers[i])
			return -1;
		return (int64_t)value * multipliers[i];
	}
	return -1;
}

int64_t csod_parse_duration(const char *text)
{
	static const char *const suffixes[] = {"", "s", "m", "h", "d", "w"};
	static const int64_t mult[] = {1, 1, 60, 3600, 86400, 7 * 86400};
	return parse_scaled(text, suffixes, mult, sizeof mult / sizeof mult[0]);
}

int64_t csod_parse_size(const char *text)
{
	static const char *const suffixes[] = {"", "b", "k", "kb", "m", "mb", "g", "gb", "t", "tb"};
	static const int64_t mult[] = {1,       1,       1024,    1024,      1 << 20,
	                               1 << 20, 1 << 30, 1 << 30, 1LL << 40, 1LL << 40};
	return parse_scaled(text, suffixes, mult, sizeof mult / sizeof mult[0]);
}
