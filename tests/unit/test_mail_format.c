/* Mail rendering and the RFC 5322 / RFC 2047 shape of what is sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/mail.h"

#define DATE  "Sun, 22 Nov 2026 10:10:10 +0000"
#define MSGID "<1795342210.0123456789abcdef@csod.example>"

static void test_render_substitutes(void **state)
{
	(void)state;
	const char *vars[] = {"id",    "20261122-101010-abcd", "what", "app.exe 1.0",
	                      "error", "app.exe: empty",       NULL};
	char *subject = NULL, *body = NULL;
	assert_int_equal(csod_mail_render(NULL, "failed", vars, &subject, &body, NULL), 0);
	assert_string_equal(subject, "csod: app.exe 1.0 failed (request 20261122-101010-abcd)");
	assert_non_null(strstr(body, "app.exe: empty"));
	assert_null(strstr(body, "{{"));
	free(subject);
	free(body);
	assert_int_equal(csod_mail_render(NULL, "no-such-kind", vars, &subject, &body, NULL), -1);
}

static void test_template_files_win(void **state)
{
	(void)state;
	/* The shipped templates (tests run from the source tree). */
	const char *vars[] = {"id",         "X1",     "name",        "Dagwood", "inbox",
	                      "/s/inbox/d", "outbox", "/s/outbox/d", NULL};
	char *subject = NULL, *body = NULL;
	assert_int_equal(csod_mail_render("etc/templates", "welcome", vars, &subject, &body, NULL),
	                 0);
	assert_string_equal(subject, "csod: your code-signing inbox");
	assert_non_null(strstr(body, "Welcome, Dagwood."));
	assert_non_null(strstr(body, "/s/inbox/d"));
	/* A line only etc/templates/welcome.txt has, not the built-in text. */
	assert_non_null(strstr(body, "with STATUS and request.json beside them"));
	free(subject);
	free(body);
}

/* <dir>/<organization>/<kind>.txt wins over <dir>/<kind>.txt; a name that
 * is not one path component never picks a folder (issue 15). */
static void test_organization_templates(void **state)
{
	(void)state;
	char dir[] = "/tmp/csod-mail-org.XXXXXX", path[128];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/Acme", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/Acme/failed.txt", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("Subject: Acme: {{id}}\nAcme's own words\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/failed.txt", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("Subject: global: {{id}}\nthe global words\n", f);
	fclose(f);
	const char *vars[] = {"id", "X1", NULL};
	char *subject = NULL, *body = NULL;
	assert_int_equal(csod_mail_render_for(dir, "Acme", "failed", vars, &subject, &body, NULL),
	                 0);
	assert_string_equal(subject, "Acme: X1");
	free(subject);
	free(body);
	const char *others[] = {"Other Org", "../Acme", ".", "", NULL};
	for (int i = 0; others[i]; i++) {
		assert_int_equal(
		    csod_mail_render_for(dir, others[i], "failed", vars, &subject, &body, NULL), 0);
		assert_string_equal(subject, "global: X1");
		free(subject);
		free(body);
	}
	assert_int_equal(csod_mail_render_for(dir, NULL, "failed", vars, &subject, &body, NULL), 0);
	assert_string_equal(subject, "global: X1");
	free(subject);
	free(body);
	snprintf(path, sizeof path, "%s/Acme/failed.txt", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/failed.txt", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/Acme", dir);
	rmdir(path);
	rmdir(dir);
}

static void test_headers_and_crlf(void **state)
{
	(void)state;
	char *msg = csod_mail_format("csod@x.com", "dev@x.com", "plain subject", DATE, MSGID,
	                             "line 1\nline 2\n");
	assert_non_null(msg);
	assert_non_null(strstr(msg, "From: csod@x.com\r\n"));
	assert_non_null(strstr(msg, "To: dev@x.com\r\n"));
	assert_non_null(strstr(msg, "Subject: plain subject\r\n"));
	/* Date and Message-ID are the queued message's, not made here. */
	assert_non_null(strstr(msg, "Date: " DATE "\r\n"));
	assert_non_null(strstr(msg, "Message-ID: " MSGID "\r\n"));
	assert_non_null(strstr(msg, "Content-Type: text/plain; charset=UTF-8\r\n"));
	assert_non_null(strstr(msg, "\r\n\r\nline 1\r\nline 2\r\n"));
	free(msg);
}

static void test_utf8_subject_is_encoded(void **state)
{
	(void)state;
	/* "Zertifikat läuft ab" */
	char *msg = csod_mail_format("a@b", "c@d", "Zertifikat l\xc3\xa4uft ab", DATE, MSGID, "x");
	assert_non_null(msg);
	assert_non_null(strstr(msg, "Subject: =?UTF-8?B?"));
	assert_null(strstr(msg, "l\xc3\xa4uft"));
	/* base64 of the first 30 bytes or fewer; decode the first word back. */
	const char *w = strstr(msg, "=?UTF-8?B?") + 10;
	assert_true(strncmp(w, "WmVydGlmaWthdCBsw6R1ZnQgYWI=", 28) == 0);
	free(msg);
}

static void test_values_are_escaped(void **state)
{
	(void)state;
	/* What a developer named or an approver wrote may not start a line of
	 * its own or reach a terminal; the files list keeps its own lines. */
	const char *vars[] = {"id",        "X1",
	                      "version",   "1.0\nBcc: spy@elsewhere.com",
	                      "message",   "no\x1b[2J\r\nway\x7f",
	                      "files",     "  a.exe\n  b\x1b.exe\n",
	                      "developer", "d\xff",
	                      NULL};
	const char *text = "Subject: csod: {{id}} {{version}}\t{{developer}}\r\n"
	                   "v={{version}}\nm={{message}}\nfiles:\n{{files}}end\n";
	char dir[] = "/tmp/csod-mail-test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof path, "%s/custom.txt", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	char *subject = NULL, *body = NULL;
	assert_int_equal(csod_mail_render(dir, "custom", vars, &subject, &body, NULL), 0);
	unlink(path);
	rmdir(dir);
	assert_string_equal(subject, "csod: X1 1.0\\nBcc: spy@elsewhere.com d\\xff ");
	assert_string_equal(body, "v=1.0\\nBcc: spy@elsewhere.com\n"
	                          "m=no\\x1b[2J\\r\\nway\\x7f\n"
	                          "files:\n  a.exe\n  b\\x1b.exe\nend\n");
	char *msg = csod_mail_format("csod@x.com", "dev@x.com", subject, DATE, MSGID, body);
	assert_non_null(msg);
	assert_null(strstr(msg, "\nBcc:"));
	for (const char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\r' && *p != '\n')
			fail_msg("raw control character 0x%02x in the message", *p);
	free(msg);
	free(subject);
	free(body);
}

static void test_stamp(void **state)
{
	(void)state;
	char date[64], id[128], id2[128];
	csod_mail_stamp(date, id);
	csod_mail_stamp(date, id2);
	assert_non_null(strstr(date, " +0000"));
	assert_int_equal(id[0], '<');
	assert_non_null(strchr(id, '@'));
	assert_int_equal(id[strlen(id) - 1], '>');
	assert_null(strpbrk(id, " \r\n"));
	assert_string_not_equal(id, id2);
}

static void test_headers_stay_one_line(void **state)
{
	(void)state;
	assert_null(
	    csod_mail_format("csod@x.com", "dev@x.com", "s", DATE, "<a@b>\r\nBcc: x@y", "b"));
	assert_null(
	    csod_mail_format("csod@x.com", "dev@x.com\r\nBcc: spy@y.com", "s", DATE, MSGID, "b"));
	assert_null(csod_mail_format("csod@x.com\n", "dev@x.com", "s", DATE, MSGID, "b"));
	assert_null(
	    csod_mail_format("csod@x.com", "dev@x.com", "s\r\nBcc: spy@y.com", DATE, MSGID, "b"));
	/* A bare CR in a body ends no line. */
	char *msg = csod_mail_format("csod@x.com", "dev@x.com", "s", DATE, MSGID, "a\rb\n");
	assert_non_null(msg);
	assert_non_null(strstr(msg, "\r\n\r\nab\r\n"));
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_render_substitutes),
	    cmocka_unit_test(test_template_files_win),
	    cmocka_unit_test(test_organization_templates),
	    cmocka_unit_test(test_headers_and_crlf),
	    cmocka_unit_test(test_utf8_subject_is_encoded),
	    cmocka_unit_test(test_values_are_escaped),
	    cmocka_unit_test(test_stamp),
	    cmocka_unit_test(test_headers_stay_one_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
