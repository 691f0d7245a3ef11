#include "states.h"

#include <string.h>

static const struct {
	const char *from, *to;
} allowed[] = {
    {"created", "approved"},     {"created", "declined"}, {"created", "failed"},
    {"approved", "in_progress"}, {"approved", "failed"},  {"in_progress", "signed"},
    {"in_progress", "failed"},   {"signed", "expired"},
};

static const char *const known[] = {"created", "approved", "in_progress", "signed",
                                    "expired", "declined", "failed"};

int csod_state_allowed(const char *from, const char *to)
{
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		if (strcmp(allowed[i].from, from) == 0 && strcmp(allowed[i].to, to) == 0)
			return 1;
	return 0;
}

int csod_state_final(const char *state)
{
	return strcmp(state, "declined") == 0 || strcmp(state, "failed") == 0 ||
	       strcmp(state, "expired") == 0;
}

int csod_state_known(const char *state)
{
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(known[i], state) == 0)
			return 1;
	return 0;
}
