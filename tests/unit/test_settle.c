/* When is a drop complete? The settle logic with a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../watchers/settle.h"

#define SETTLE 2000

static csod_drop_sig file_sig(int64_t size, int64_t mtime)
{
	csod_drop_sig s;
	memset(&s, 0, sizeof s);
	s.exists = 1;
	s.size = size;
	s.mtime_ns = mtime;
	return s;
}

static void test_quiet_file_fires_after_settle(void **state)
{
	(void)state;
	csod_settle s;
	csod_drop_sig sig = file_sig(10, 1);
	csod_settle_init(&s, &sig, 0);
	csod_settle_event(&s, 0);
	assert_false(csod_settle_check(&s, &sig, 1999, SETTLE));
	assert_int_equal(csod_settle_due(&s, 1999, SETTLE), 1);
	assert_true(csod_settle_check(&s, &sig, 2000, SETTLE));
	/* Handed over: not again, however long it stays. */
	assert_int_equal(csod_settle_due(&s, 5000, SETTLE), -1);
	assert_false(csod_settle_check(&s, &sig, 9000, SETTLE));
}

static void test_writes_restart_the_wait(void **state)
{
	(void)state;
	csod_settle s;
	csod_drop_sig sig = file_sig(10, 1);
	csod_settle_init(&s, &sig, 0);
	csod_settle_event(&s, 0);
	csod_settle_event(&s, 1500);
	assert_false(csod_settle_check(&s, &sig, 2000, SETTLE));
	assert_true(csod_settle_check(&s, &sig, 3500, SETTLE));
}

static void test_rename_is_immediate(void **state)
{
	(void)state;
	csod_settle s;
	csod_drop_sig sig = file_sig(10, 1);
	csod_settle_init(&s, &sig, 0);
	csod_settle_arrived(&s, 0);
	assert_int_equal(csod_settle_due(&s, 0, SETTLE), 0);
	assert_true(csod_settle_check(&s, &sig, 0, SETTLE));
}

static void test_ready_folder_is_immediate_even_with_temp_files(void **state)
{
	(void)state;
	csod_settle s;
	csod_drop_sig sig = file_sig(10, 1);
	sig.is_dir = 1;
	sig.has_temp = 1;
	csod_settle_init(&s, &sig, 0);
	assert_false(csod_settle_check(&s, &sig, 10, SETTLE));
	sig.has_ready = 1;
	assert_true(csod_settle_check(&s, &sig, 20, SETTLE));
}

static void test_temp_file_holds_a_folder_back(void **state)
{
	(void)state;
	csod_settle s;
	csod_drop_sig sig = file_sig(10, 1);
	sig.is_dir = 1;
	sig.has_temp = 1;
	csod_settle_init(&s, &sig, 0);
	csod_settle_event(&s, 0);
	assert_false(csod_settle_check(&s, &sig, 5000, SETTLE));
	/* And it does not ask to be looked at again at once (no busy loop). */
	assert_int_equal(csod_settle_due(&s, 5000, SETTLE), SETTLE);
	sig.has_temp = 0;
	csod_settle_event(&s, 6000);
	assert_true(csod_settle_check(&s, &sig, 8000, SETTLE));
}

static void test_polling_needs_two_equal_looks(void **state)
{
	(void)state;
	/* No inotify (a remote share): a change seen by looking restarts the
	 * wait; only a look equal to the previous one after settle fires. */
	csod_settle s;
	csod_drop_sig a = file_sig(10, 1), b = file_sig(20, 2);
	csod_settle_init(&s, &a, 0);
	assert_false(csod_settle_check(&s, &b, 2500, SETTLE));
	assert_false(csod_settle_check(&s, &b, 4000, SETTLE));
	assert_true(csod_settle_check(&s, &b, 4500, SETTLE));
}

static void test_changed_after_handover_is_reported_again(void **state)
{
	(void)state;
	csod_settle s;
	csod_drop_sig a = file_sig(10, 1), b = file_sig(11, 5);
	csod_settle_init(&s, &a, 0);
	csod_settle_arrived(&s, 0);
	assert_true(csod_settle_check(&s, &a, 0, SETTLE));
	assert_false(csod_settle_check(&s, &a, 3000, SETTLE));
	assert_false(csod_settle_check(&s, &b, 4000, SETTLE));
	assert_true(csod_settle_check(&s, &b, 6000, SETTLE));
}

static void test_vanished_never_fires(void **state)
{
	(void)state;
	csod_settle s;
	csod_drop_sig a = file_sig(10, 1), gone;
	memset(&gone, 0, sizeof gone);
	csod_settle_init(&s, &a, 0);
	csod_settle_arrived(&s, 0);
	assert_false(csod_settle_check(&s, &gone, 0, SETTLE));
}

static void test_ignored_names(void **state)
{
	(void)state;
	assert_true(csod_name_ignored(".hidden"));
	assert_true(csod_name_ignored("~$doc.docx"));
	assert_true(csod_name_ignored("app.exe.tmp"));
	assert_true(csod_name_ignored("app.exe.part"));
	assert_true(csod_name_ignored("app.exe.partial"));
	assert_true(csod_name_ignored("app.exe.crdownload"));
	assert_false(csod_name_ignored("app.exe"));
	assert_false(csod_name_ignored("tmp"));
	assert_false(csod_name_ignored("READY"));
	assert_false(csod_name_ignored("partial.exe"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quiet_file_fires_after_settle),
	    cmocka_unit_test(test_writes_restart_the_wait),
	    cmocka_unit_test(test_rename_is_immediate),
	    cmocka_unit_test(test_ready_folder_is_immediate_even_with_temp_files),
	    cmocka_unit_test(test_temp_file_holds_a_folder_back),
	    cmocka_unit_test(test_polling_needs_two_equal_looks),
	    cmocka_unit_test(test_changed_after_handover_is_reported_again),
	    cmocka_unit_test(test_vanished_never_fires),
	    cmocka_unit_test(test_ignored_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
