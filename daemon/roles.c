#include "roles.h"

#include <stdio.h>
#include <string.h>

static int listed(char **items, const char *value)
{
	for (int i = 0; items && items[i]; i++)
		if (strcmp(items[i], value) == 0)
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
	case CSOD_ROLE_DRAO: {
		if (!department || !*department)
			return 0;
		char qualified[600];
		snprintf(qualified, sizeof qualified, "%s/%s", organization ? organization : "",
		         department);
		return listed(admin->departments, qualified) ||
		       listed(admin->departments, department);
	}
	}
	return 0;
}
