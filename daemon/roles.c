#include "roles.h"

#include <string.h>

static int listed(char **items, const char *value)
{
	for (int i = 0; items && items[i]; i++)
		if (strcmp(items[i], value) == 0)
			return 1;
	return 0;
}

/* Is "organization/department" one of items? Compared in place, so that no
 * length limit can make a truncated pair match. */
static int listed_pair(char **items, const char *organization, const char *department)
{
	size_t n = strlen(organization);
	for (int i = 0; items && items[i]; i++)
		if (strncmp(items[i], organization, n) == 0 && items[i][n] == '/' &&
		    strcmp(items[i] + n + 1, department) == 0)
			return 1;
	return 0;
}

int csod_admin_covers(const csod_admin *admin, const char *organization, const char *department)
{
	switch (admin->role) {
	case CSOD_ROLE_MRAO:
		return 1;
	case CSOD_ROLE_RAO:
		return organization && listed(admin->organizations, organization);
	case CSOD_ROLE_DRAO:
		/* Only the full pair: the same department name may exist in
		 * several organizations. */
		return organization && *organization && department && *department &&
		       listed_pair(admin->departments, organization, department);
	}
	return 0;
}
