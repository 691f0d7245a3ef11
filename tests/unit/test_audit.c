/* The audit log's hash chain: an untouched log verifies, and each way of
 * tampering with it (a row edited, a row taken out of the middle, rows cut
 * from the end) is caught and named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../daemon/audit.h"
#include "../../lib/fsutil.h"
#include "../../lib/log.h"

typedef struct fixture {
	char dir[64];
	csod_db *db;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/csod-audit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char path[128];
	snprintf(path, sizeof path, "%s/csod.db", f->dir);
	csod_error err;
	f->db = csod_db_open(path, 0, &err);
	assert_non_null(f->db);
	/* Five rows, ids 1 to 5. */
	for (int i = 1; i <= 5; i++)
		assert_int_equal(csod_audit(f->db, "root", "test.action", "obj", "row %d", i), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	csod_db_close(f->db);
	csod_rm_rf(f->dir);
	free(f);
	return 0;
}

static void expect_broken(fixture *f, const char *words)
{
	csod_error err = {.msg = ""};
	assert_int_equal(csod_audit_verify(f->db, NULL, &err), -1);
	if (!strstr(err.msg, words))
		fail_msg("'%s' does not say '%s'", err.msg, words);
}

static void test_untouched_verifies(void **state)
{
	fixture *f = *state;
	long rows = 0;
	csod_error err;
	assert_int_equal(csod_audit_verify(f->db, &rows, &err), 0);
	assert_int_equal(rows, 5);
}

static void test_edited_row(void **state)
{
	fixture *f = *state;
	assert_int_equal(
	    csod_db_exec(f->db, "UPDATE audit SET detail = 'forged' WHERE id = 3", NULL), 0);
	expect_broken(f, "audit row 3 was altered");
}

static void test_row_taken_from_the_middle(void **state)
{
	fixture *f = *state;
	assert_int_equal(csod_db_exec(f->db, "DELETE FROM audit WHERE id = 3", NULL), 0);
	expect_broken(f, "audit row 4 does not follow row 2");
}

static void test_rows_cut_from_the_end(void **state)
{
	fixture *f = *state;
	assert_int_equal(csod_db_exec(f->db, "DELETE FROM audit WHERE id >= 4", NULL), 0);
	expect_broken(f, "ends at row 3, but its head was row 5");
}

int main(void)
{
	/* Every audit row is also logged: only problems are of interest here. */
	csod_log_open("test_audit", CSOD_LOG_STDERR, LOG_WARNING);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_untouched_verifies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_edited_row, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_row_taken_from_the_middle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rows_cut_from_the_end, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
