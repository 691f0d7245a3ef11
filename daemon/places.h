/* A developer's places: the organizations/departments they belong to (the
 * seed's Add Developer dialog ticks several). The first is the default;
 * each request picks one of them (request.conf organization/department),
 * and that pair decides who approves it. */
#ifndef CSOD_PLACES_H
#define CSOD_PLACES_H

#include "config.h"

#define CSOD_MAX_PLACES 16

typedef struct csod_place {
	char organization[256];
	char department[256]; /* "" when none */
} csod_place;

/* A place as written in the config (developers[].places) or given to
 * csodctl: "Organization/Department" of a department in organizations, or
 * "Organization" alone. The number of places entry names: 1 (in *out),
 * 0 (none) or more (ambiguous: a '/' in a name). */
int csod_place_resolve(const csod_config *cfg, const char *entry, csod_place *out);

/* The places as the developers table keeps them: a JSON array of
 * [organization, department] pairs (department null when none). NULL when
 * out of memory. */
char *csod_places_to_json(const csod_place *places, int n);
/* Reads that text into out (at most CSOD_MAX_PLACES); the number read, 0
 * when text is NULL or not such an array. */
int csod_places_from_json(const char *text, csod_place *out);

/* "A/Dev, B" for messages ("A, no department" for one place alone). */
void csod_places_text(const csod_place *places, int n, char *out, size_t len);

#endif
