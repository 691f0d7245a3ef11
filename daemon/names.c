#include "names.h"

#include <stdio.h>

#include "../lib/text.h"

int csod_name_check(const char *name, csod_error *err)
{
	const char *why = csod_text_problem(name);
	if (!why)
		return 0;
	char shown[CSOD_SHOWN_MAX];
	return csod_fail(err, "%s: file name %s", csod_escape_to(name, shown, sizeof shown), why);
}

int csod_drop_name_check(char *drop_name, size_t len, csod_error *err)
{
	if (csod_name_check(drop_name, err) == 0)
		return 0;
	char shown[CSOD_SHOWN_MAX];
	csod_escape_to(drop_name, shown, sizeof shown);
	snprintf(drop_name, len, "%s", shown);
	return -1;
}
