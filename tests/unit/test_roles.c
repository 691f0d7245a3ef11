/* Admin scopes: a DRAO's scope is the pair "Organization/Department" and
 * nothing shorter, since the same department name may exist in several
 * organizations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../daemon/roles.h"

static void test_drao_matches_only_the_pair(void **state)
{
	(void)state;
	char *departments[] = {"Dithers/QA", "QA", NULL};
	csod_admin drao = {.role = CSOD_ROLE_DRAO, .departments = departments};
	assert_true(csod_admin_covers(&drao, "Dithers", "QA"));
	/* "QA" alone is a bare name (the config refuses it); it must not
	 * reach QA of every organization. */
	assert_false(csod_admin_covers(&drao, "Blondie", "QA"));
	assert_false(csod_admin_covers(&drao, "Dithers", "Software Development"));
	assert_false(csod_admin_covers(&drao, "", "QA"));
	assert_false(csod_admin_covers(&drao, NULL, "QA"));
	assert_false(csod_admin_covers(&drao, "Dithers", ""));
	assert_false(csod_admin_covers(&drao, "Dithers", NULL));
	/* No prefix games: "Dith" + "ers/QA" is not "Dithers/QA". */
	assert_false(csod_admin_covers(&drao, "Dith", "ers/QA"));
	assert_false(csod_admin_covers(&drao, "Dithers/QA", ""));
	char *slashy[] = {"A/B/C", NULL};
	csod_admin nested = {.role = CSOD_ROLE_DRAO, .departments = slashy};
	assert_true(csod_admin_covers(&nested, "A", "B/C"));
	assert_true(csod_admin_covers(&nested, "A/B", "C"));
}

static void test_rao_and_mrao(void **state)
{
	(void)state;
	char *organizations[] = {"Dithers", NULL};
	csod_admin rao = {.role = CSOD_ROLE_RAO, .organizations = organizations};
	assert_true(csod_admin_covers(&rao, "Dithers", NULL));
	assert_true(csod_admin_covers(&rao, "Dithers", "QA"));
	assert_false(csod_admin_covers(&rao, "Blondie", "QA"));
	assert_false(csod_admin_covers(&rao, NULL, NULL));
	csod_admin mrao = {.role = CSOD_ROLE_MRAO};
	assert_true(csod_admin_covers(&mrao, "Blondie", "QA"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_drao_matches_only_the_pair),
	    cmocka_unit_test(test_rao_and_mrao),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
