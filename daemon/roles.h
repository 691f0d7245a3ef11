/* Who may act on what: the scope of MRAO, RAO and DRAO administrators. */
#ifndef CSOD_ROLES_H
#define CSOD_ROLES_H

#include "config.h"

/* MRAO: every organization; RAO: the organizations delegated to them; DRAO:
 * the departments delegated to them, each "Organization/Department" (the
 * config refuses a bare department name). */
int csod_admin_covers(const csod_admin *admin, const char *organization, const char *department);

#endif
