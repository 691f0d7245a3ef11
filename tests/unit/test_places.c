/* A developer's places: "Organization/Department" or "Organization" names
 * exactly one configured place (a '/' in a name must not let an entry
 * reach a department of another organization), and the places survive
 * their trip through the database's JSON, names with quotes and slashes
 * included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../daemon/places.h"

static char *dithers_depts[] = {"Software Development", "QA", NULL};
static char *blondie_depts[] = {"Kitchen", NULL};
static char *slash_depts[] = {"C", NULL};

static csod_config *config(void)
{
	static csod_organization orgs[3];
	static csod_config cfg;
	orgs[0] = (csod_organization){.name = "Dithers", .departments = dithers_depts};
	orgs[1] = (csod_organization){.name = "Blondie", .departments = blondie_depts};
	orgs[2] = (csod_organization){.name = "Dithers/QA", .departments = slash_depts};
	cfg.organizations = orgs;
	cfg.n_organizations = 3;
	return &cfg;
}

static void test_resolve(void **state)
{
	(void)state;
	csod_place p;
	assert_int_equal(csod_place_resolve(config(), "Dithers/QA", &p), 2); /* ambiguous */
	assert_int_equal(csod_place_resolve(config(), "Blondie/Kitchen", &p), 1);
	assert_string_equal(p.organization, "Blondie");
	assert_string_equal(p.department, "Kitchen");
	assert_int_equal(csod_place_resolve(config(), "Blondie", &p), 1);
	assert_string_equal(p.department, "");
	assert_int_equal(csod_place_resolve(config(), "Dithers/QA/C", &p), 1);
	assert_string_equal(p.organization, "Dithers/QA");
	assert_string_equal(p.department, "C");
	/* A department of another organization, a bare department, a prefix. */
	assert_int_equal(csod_place_resolve(config(), "Blondie/QA", &p), 0);
	assert_int_equal(csod_place_resolve(config(), "Kitchen", &p), 0);
	assert_int_equal(csod_place_resolve(config(), "Dith", &p), 0);
	assert_int_equal(csod_place_resolve(config(), "Dithers/", &p), 0);
}

static void test_json_round_trip(void **state)
{
	(void)state;
	csod_place in[2] = {{"A \"quoted\" org", "Dev/Ops"}, {"B", ""}};
	char *text = csod_places_to_json(in, 2);
	assert_non_null(text);
	csod_place out[CSOD_MAX_PLACES];
	assert_int_equal(csod_places_from_json(text, out), 2);
	assert_string_equal(out[0].organization, "A \"quoted\" org");
	assert_string_equal(out[0].department, "Dev/Ops");
	assert_string_equal(out[1].organization, "B");
	assert_string_equal(out[1].department, "");
	free(text);
	assert_int_equal(csod_places_from_json(NULL, out), 0);
	assert_int_equal(csod_places_from_json("not json", out), 0);
	assert_int_equal(csod_places_from_json("[[1, 2], [\"X\", null]]", out), 1);
	assert_string_equal(out[0].organization, "X");
	char shown[128];
	csod_places_text(in + 1, 1, shown, sizeof shown);
	assert_string_equal(shown, "B, no department");
	csod_places_text(in, 2, shown, sizeof shown);
	assert_string_equal(shown, "A \"quoted\" org/Dev/Ops, B");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_resolve),
	    cmocka_unit_test(test_json_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
