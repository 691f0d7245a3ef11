/* Email addresses csod accepts: one plain address, nothing a mail header
 * could be made to carry besides (issue 12, item 9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../daemon/email_address.h"

static void test_plain_addresses(void **state)
{
	(void)state;
	static const char *const good[] = {
	    "dagwood@dithercons.com",         "root@localhost",     "d@x",
	    "first.last+tag@sub.example.org", "o'brien@example.ie", "x_y-z@a-b.c0m",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		const char *why = csod_email_problem(good[i]);
		if (why)
			fail_msg("%s: %s", good[i], why);
	}
}

static void expect_refused(const char *address, const char *why)
{
	const char *got = csod_email_problem(address);
	if (!got)
		fail_msg("%s was accepted", address);
	if (!strstr(got, why))
		fail_msg("%s: \"%s\", expected \"%s\"", address, got, why);
}

static void test_refused(void **state)
{
	(void)state;
	expect_refused("evil@dithercons.com\r\nBcc: spy@elsewhere.com", "control character");
	expect_refused("evil@dithercons.com\nBcc: spy@elsewhere.com", "control character");
	expect_refused("a\tb@c", "control character");
	expect_refused("a b@c.com", "space");
	expect_refused("", "empty");
	expect_refused(NULL, "empty");
	expect_refused("nobody", "no @");
	expect_refused("a@b@c", "more than one @");
	expect_refused("@c.com", "plain name before the @");
	expect_refused(".a@c.com", "plain name before the @");
	expect_refused("a.@c.com", "plain name before the @");
	expect_refused("a..b@c.com", "plain name before the @");
	expect_refused("<a@c.com>", "plain name before the @");
	expect_refused("a,b@c.com", "plain name before the @");
	expect_refused("\"a\"@c.com", "plain name before the @");
	expect_refused("caf\xc3\xa9@c.com", "plain name before the @");
	expect_refused("a@", "domain name after the @");
	expect_refused("a@-c.com", "domain name after the @");
	expect_refused("a@c-.com", "domain name after the @");
	expect_refused("a@c..com", "domain name after the @");
	expect_refused("a@.c.com", "domain name after the @");
	expect_refused("a@c.com.", "domain name after the @");
	expect_refused("a@c.com>", "domain name after the @");
	expect_refused("a@c_d.com", "domain name after the @");
	char local[80];
	memset(local, 'l', 65);
	strcpy(local + 65, "@c.com");
	expect_refused(local, "plain name before the @");
	char label[80] = "a@";
	memset(label + 2, 'd', 64);
	strcpy(label + 66, ".com");
	expect_refused(label, "domain name after the @");
}

static void test_error_names_the_address_escaped(void **state)
{
	(void)state;
	csod_error err;
	assert_int_equal(csod_email_check("a@b.com", &err), 0);
	assert_int_equal(csod_email_check("evil@x.com\r\nBcc: spy@y.com", &err), -1);
	assert_string_equal(err.msg, "\"evil@x.com\\r\\nBcc: spy@y.com\" is not a valid email "
	                             "address: it holds a control character");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_addresses),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_error_names_the_address_escaped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
