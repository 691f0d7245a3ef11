#include "places.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int listed(char **items, const char *value)
{
	for (int i = 0; items && items[i]; i++)
		if (strcmp(items[i], value) == 0)
			return 1;
	return 0;
}

int csod_place_resolve(const csod_config *cfg, const char *entry, csod_place *out)
{
	int named = 0;
	for (int i = 0; i < cfg->n_organizations; i++) {
		const csod_organization *o = &cfg->organizations[i];
		size_t n = strlen(o->name);
		const char *dept = NULL;
		if (strcmp(entry, o->name) == 0)
			dept = "";
		else if (strncmp(entry, o->name, n) == 0 && entry[n] == '/' &&
		         listed(o->departments, entry + n + 1))
			dept = entry + n + 1;
		if (!dept)
			continue;
		if (named++ == 0) {
			snprintf(out->organization, sizeof out->organization, "%s", o->name);
			snprintf(out->department, sizeof out->department, "%s", dept);
		}
	}
	return named;
}

char *csod_places_to_json(const csod_place *places, int n)
{
	json_t *a = json_array();
	for (int i = 0; a && i < n; i++) {
		json_t *pair = json_pack("[s, s?]", places[i].organization,
		                         places[i].department[0] ? places[i].department : NULL);
		if (!pair || json_array_append_new(a, pair) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return text;
}

int csod_places_from_json(const char *text, csod_place *out)
{
	json_t *a = text ? json_loads(text, 0, NULL) : NULL;
	int n = 0;
	for (size_t i = 0; json_is_array(a) && i < json_array_size(a) && n < CSOD_MAX_PLACES; i++) {
		json_t *pair = json_array_get(a, i);
		const char *org = json_string_value(json_array_get(pair, 0));
		const char *dept = json_string_value(json_array_get(pair, 1));
		if (!org)
			continue;
		snprintf(out[n].organization, sizeof out[n].organization, "%s", org);
		snprintf(out[n].department, sizeof out[n].department, "%s", dept ? dept : "");
		n++;
	}
	json_decref(a);
	return n;
}

void csod_places_text(const csod_place *places, int n, char *out, size_t len)
{
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		size_t used = strlen(out);
		const char *dept = places[i].department;
		snprintf(out + used, len - used, "%s%s%s%s", i ? ", " : "", places[i].organization,
		         dept[0]  ? "/"
		         : n == 1 ? ", no department"
		                  : "",
		         dept);
	}
}
