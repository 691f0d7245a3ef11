/* Pre-sign checks: clamd's replies as csod reads them, its address form,
 * and how verdicts add up (issue 15). A reply that is neither OK nor FOUND
 * must never read as a pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/check_verdicts.h"
#include "../../daemon/clamd.h"

static csod_clamd_result parse(const char *text, char *sig, csod_error *err)
{
	char reply[256];
	snprintf(reply, sizeof reply, "%s", text);
	err->msg[0] = '\0';
	return csod_clamd_parse_reply(reply, sig, 64, err);
}

static void test_clamd_replies(void **state)
{
	(void)state;
	char sig[64];
	csod_error err;
	assert_int_equal(parse("stream: OK", sig, &err), CSOD_CLAMD_CLEAN);
	assert_int_equal(parse("stream: Eicar-Test-Signature FOUND", sig, &err), CSOD_CLAMD_FOUND);
	assert_string_equal(sig, "Eicar-Test-Signature");
	assert_int_equal(parse("INSTREAM size limit exceeded. ERROR", sig, &err), CSOD_CLAMD_ERROR);
	assert_non_null(strstr(err.msg, "StreamMaxLength"));
	assert_int_equal(parse("stream: Can't allocate memory ERROR", sig, &err), CSOD_CLAMD_ERROR);
	assert_non_null(strstr(err.msg, "Can't allocate memory"));
	/* Near misses are errors, never a pass. */
	static const char *const odd[] = {
	    "stream: OK ",    "stream: ok", "OK",           "stream: FOUND",
	    "stream:  FOUND", "",           "stream: OKAY", "PONG"};
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
		if (parse(odd[i], sig, &err) == CSOD_CLAMD_CLEAN)
			fail_msg("\"%s\" read as clean", odd[i]);
	/* A signature name cannot carry a line of its own into a mail. */
	assert_int_equal(parse("stream: Evil\nSubject: x FOUND", sig, &err), CSOD_CLAMD_FOUND);
	assert_null(strchr(sig, '\n'));
}

static void test_tcp_addresses(void **state)
{
	(void)state;
	char host[64], port[8];
	assert_int_equal(
	    csod_clamd_tcp_split("127.0.0.1:3310", host, sizeof host, port, sizeof port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_string_equal(port, "3310");
	assert_int_equal(csod_clamd_tcp_split("[::1]:3310", host, sizeof host, port, sizeof port),
	                 0);
	assert_string_equal(host, "::1");
	assert_int_equal(csod_clamd_tcp_split("clamd.lan:1", host, sizeof host, port, sizeof port),
	                 0);
	static const char *const bad[] = {"localhost", ":3310",    "h:",        "h:0",   "h:65536",
	                                  "h:33x",     "::1:3310", "[::1]3310", "[::1]", "h:-1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (csod_clamd_tcp_split(bad[i], host, sizeof host, port, sizeof port) == 0)
			fail_msg("\"%s\" accepted", bad[i]);
}

static void test_verdicts(void **state)
{
	(void)state;
	csod_request r;
	memset(&r, 0, sizeof r);
	char line[300];
	csod_verdicts_line(&r, line, sizeof line);
	assert_string_equal(line, "none configured");
	assert_string_equal(csod_verdicts_summary(&r), "pass");
	csod_verdict_add(&r, "clamav", "pass", "clean", 1);
	assert_string_equal(csod_verdicts_summary(&r), "pass");
	csod_verdict_add(&r, "policy", "error", "cannot run: killed", 2);
	assert_string_equal(csod_verdicts_summary(&r), "hold");
	csod_verdict_add(&r, "third", "fail", "ignored: past the maximum", 3);
	assert_int_equal(r.n_verdicts, CSOD_CHECKS_MAX);
	r.verdicts[0] = (csod_check_verdict){"clamav", "fail", "X FOUND in a.exe", 1};
	assert_string_equal(csod_verdicts_summary(&r), "fail");
	snprintf(r.checks, sizeof r.checks, "fail");
	csod_verdicts_line(&r, line, sizeof line);
	assert_string_equal(
	    line, "fail (clamav: fail: X FOUND in a.exe; policy: error: cannot run: killed)");
	/* Kept as JSON and read back the same. */
	char *json = csod_verdicts_to_json(&r);
	assert_non_null(json);
	csod_request back;
	memset(&back, 0, sizeof back);
	csod_verdicts_from_json(json, &back);
	assert_int_equal(back.n_verdicts, 2);
	assert_string_equal(back.verdicts[1].reason, "cannot run: killed");
	assert_int_equal(back.verdicts[1].at, 2);
	free(json);
	csod_verdicts_from_json("not json", &back);
	assert_int_equal(back.n_verdicts, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clamd_replies),
	    cmocka_unit_test(test_tcp_addresses),
	    cmocka_unit_test(test_verdicts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
