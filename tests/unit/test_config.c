/* csod.conf: the shipped files load, and every class of mistake is named by
 * file, line and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../daemon/config.h"

static char conf_path[64];

static int setup(void **state)
{
	(void)state;
	snprintf(conf_path, sizeof conf_path, "/tmp/csod-config-test.%d.conf", (int)getpid());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(conf_path);
	return 0;
}

static csod_config *load_text(const char *text, csod_error *err)
{
	FILE *f = fopen(conf_path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return csod_config_load(conf_path, NULL, err);
}

static void expect_error(const char *text, const char *words)
{
	csod_error err = {.msg = ""};
	csod_config *cfg = load_text(text, &err);
	if (cfg) {
		csod_config_free(cfg);
		fail_msg("accepted: %s", text);
	}
	char expected[256];
	snprintf(expected, sizeof expected, "%s:%s", conf_path, words);
	if (!strstr(err.msg, expected))
		fail_msg("'%s' does not contain '%s'", err.msg, expected);
}

static void test_shipped_files_load(void **state)
{
	(void)state;
	csod_error err;
	csod_config *cfg = csod_config_load("etc/csod.conf", NULL, &err);
	if (!cfg)
		fail_msg("etc/csod.conf: %s", err.msg);
	assert_int_equal(cfg->n_organizations, 1);
	assert_int_equal(cfg->retention_s, 3 * 86400);
	/* A fresh install works as shipped: mail to the spool, no developers yet. */
	assert_string_equal(cfg->mail.transport, "spool");
	assert_int_equal(cfg->n_developers, 0);
	assert_string_equal(cfg->spool, "/var/spool/csod");
	assert_string_equal(cfg->ca.backend, "local");
	csod_config_free(cfg);
	cfg = csod_config_load("etc/demo.conf", "/tmp/elsewhere", &err);
	if (!cfg)
		fail_msg("etc/demo.conf: %s", err.msg);
	assert_string_equal(cfg->spool, "/tmp/elsewhere");
	assert_true(cfg->auto_approve);
	assert_true(cfg->ca.auto_enroll);
	assert_non_null(csod_config_developer(cfg, "demo"));
	assert_null(csod_config_developer(cfg, "nobody"));
	assert_non_null(csod_config_admin_by_uid(cfg, 0));
	csod_config_free(cfg);
}

static void test_defaults(void **state)
{
	(void)state;
	csod_error err;
	csod_config *cfg = load_text("", &err);
	assert_non_null(cfg);
	assert_string_equal(cfg->spool, "/var/spool/csod");
	assert_int_equal(cfg->settle_ms, 2000);
	assert_int_equal(cfg->poll_interval_s, 5);
	assert_int_equal(cfg->ca.key_bits, 3072);
	assert_string_equal(cfg->keys.backend, "database");
	assert_int_equal(cfg->min_free_space, 64LL << 20);
	assert_int_equal(cfg->min_free_percent, 0);
	csod_config_free(cfg);
}

static void test_min_free_space(void **state)
{
	(void)state;
	csod_error err;
	csod_config *cfg = load_text("min_free_space = \"8M\";\n", &err);
	assert_non_null(cfg);
	assert_int_equal(cfg->min_free_space, 8LL << 20);
	assert_int_equal(cfg->min_free_percent, 0);
	csod_config_free(cfg);
	cfg = load_text("min_free_space = \"2%\";\n", &err);
	assert_non_null(cfg);
	assert_int_equal(cfg->min_free_percent, 2);
	assert_int_equal(cfg->min_free_space, 0);
	csod_config_free(cfg);
	cfg = load_text("min_free_space = 0;\n", &err);
	assert_non_null(cfg);
	assert_int_equal(cfg->min_free_space, 0);
	csod_config_free(cfg);
	expect_error("min_free_space = \"80%\";\n",
	             "1: min_free_space: expected a size such as \"64M\" or a share");
	expect_error("min_free_space = \"x%\";\n", "1: min_free_space: expected a size");
	expect_error("min_free_space = \"lots\";\n", "1: min_free_space: expected a size");
}

static void test_errors_name_file_line_key(void **state)
{
	(void)state;
	expect_error("spool = \"/x\";\nsettle_ms = \"fast\";\n",
	             "2: settle_ms: expected a whole number");
	expect_error("settle_ms = = 3;\n", "1: syntax error");
	expect_error("\n\nbogus = 1;\n", "3: bogus: unknown setting");
	expect_error("mail = {\n transprt = \"smtp\"; };\n", "2: mail.transprt: unknown setting");
	expect_error("mail = { transport = \"pigeon\"; };\n",
	             "1: mail.transport: expected one of spool, smtp, none");
	expect_error("retention = \"soon\";\n", "1: retention: expected a duration");
	expect_error("max_file_size = \"huge\";\n", "1: max_file_size: expected a size");
	expect_error("ca = { key_algorithm = \"ec\"; key_bits = 2048; };\n",
	             "1: ca.key_bits: expected 256 or 384");
	expect_error("timestamp = { url = \"ftp://x\"; };\n", "1: timestamp.url: expected an http");
	expect_error("timestamp = { url = [ \"http://a/\",\n \"ftp://x\" ]; };\n",
	             "1: timestamp.url: expected an http:// or https:// URL, got \"ftp://x\"");
	expect_error("timestamp = { url = ( \"http://a/\", 3 ); };\n",
	             "1: timestamp.url: expected a list of strings");
}

/* timestamp.url: one server as a string, several as a list, tried in order. */
static void test_timestamp_servers(void **state)
{
	(void)state;
	csod_error err = {.msg = ""};
	csod_config *cfg = load_text("timestamp = { url = \"http://one/\"; };\n", &err);
	assert_non_null(cfg);
	assert_string_equal(cfg->timestamp.urls[0], "http://one/");
	assert_null(cfg->timestamp.urls[1]);
	assert_null(cfg->timestamp.ca_file);
	csod_config_free(cfg);
	cfg = load_text("timestamp = { url = [ \"http://one/\", \"https://two/\" ];\n"
	                "  ca_file = \"/etc/csod/tsa-roots.pem\"; };\n",
	                &err);
	assert_non_null(cfg);
	assert_string_equal(cfg->timestamp.urls[0], "http://one/");
	assert_string_equal(cfg->timestamp.urls[1], "https://two/");
	assert_null(cfg->timestamp.urls[2]);
	assert_string_equal(cfg->timestamp.ca_file, "/etc/csod/tsa-roots.pem");
	csod_config_free(cfg);
	cfg = load_text("timestamp = { url = \"\"; };\n", &err);
	assert_non_null(cfg);
	assert_null(cfg->timestamp.urls);
	csod_config_free(cfg);
}

static void test_cross_checks(void **state)
{
	(void)state;
	const char *orgs = "organizations = ( { name = \"A\"; departments = [ \"D1\" ]; } );\n";
	char text[1024];
	snprintf(text, sizeof text,
	         "%sdevelopers = ( { user = \"u\"; email = \"u@a\"; organization = \"B\"; } );\n",
	         orgs);
	expect_error(text, "2: developers[0]: organization \"B\" is not in organizations");
	snprintf(text, sizeof text,
	         "%sdevelopers = ( { user = \"u\"; email = \"u@a\"; organization = \"A\";\n"
	         "  department = \"D9\"; } );\n",
	         orgs);
	expect_error(text, "3: developers[0]: department \"D9\" is not a department of \"A\"");
	snprintf(
	    text, sizeof text,
	    "%sdevelopers = ( { user = \"../x\"; email = \"u@a\"; organization = \"A\"; } );\n",
	    orgs);
	expect_error(text, "2: developers[0]: user \"../x\" is not a usable folder name");
	snprintf(text, sizeof text,
	         "%sdevelopers = ( { user = \"u\"; email = \"u@a\"; organization = \"A\"; },\n"
	         "  { user = \"u\"; email = \"v@a\"; organization = \"A\"; } );\n",
	         orgs);
	expect_error(text, "3: developers[1]: user \"u\" appears twice");
	snprintf(text, sizeof text,
	         "%sdevelopers = ( { user = \"u\"; email = \"u@a\"; organization = \"A\";\n"
	         "  digests = [ \"crc32\" ]; } );\n",
	         orgs);
	expect_error(text, "3: developers[0]: unknown digest \"crc32\"");
	snprintf(text, sizeof text,
	         "%sadmins = ( { user = \"no-such-user-here\"; role = \"MRAO\"; } );\n", orgs);
	expect_error(text, "2: admins[0]: no Unix user \"no-such-user-here\"");
	snprintf(text, sizeof text, "%sadmins = ( { user = \"root\"; role = \"RAO\"; } );\n", orgs);
	expect_error(text, "2: admins[0]: an RAO needs organizations");
	snprintf(text, sizeof text, "%sadmins = ( { user = \"root\"; role = \"DRAO\"; } );\n",
	         orgs);
	expect_error(text, "2: admins[0]: a DRAO needs departments");
	snprintf(text, sizeof text, "%sadmins = ( { user = \"root\"; role = \"BOSS\"; } );\n",
	         orgs);
	expect_error(text, "2: admins[0]: role: expected MRAO, RAO or DRAO");
}

static void test_auto_approve_precedence(void **state)
{
	(void)state;
	csod_error err;
	csod_config *cfg = load_text("auto_approve = false;\norganizations = ( { name = \"A\"; "
	                             "auto_approve = true; }, { name = \"B\"; } );\n",
	                             &err);
	assert_non_null(cfg);
	assert_true(csod_config_auto_approve(cfg, "A"));
	assert_false(csod_config_auto_approve(cfg, "B"));
	assert_false(csod_config_auto_approve(cfg, "C"));
	csod_config_free(cfg);
}

static void test_durations_and_sizes(void **state)
{
	(void)state;
	assert_int_equal(csod_parse_duration("3d"), 3 * 86400);
	assert_int_equal(csod_parse_duration("72h"), 72 * 3600);
	assert_int_equal(csod_parse_duration("90m"), 5400);
	assert_int_equal(csod_parse_duration("30s"), 30);
	assert_int_equal(csod_parse_duration("45"), 45);
	assert_int_equal(csod_parse_duration("2w"), 14 * 86400);
	assert_int_equal(csod_parse_duration("-3d"), -1);
	assert_int_equal(csod_parse_duration("d"), -1);
	assert_int_equal(csod_parse_duration("3 days"), -1);
	assert_int_equal(csod_parse_duration("99999999999999999999d"), -1);
	assert_int_equal(csod_parse_size("512k"), 512 * 1024);
	assert_int_equal(csod_parse_size("100M"), 100LL << 20);
	assert_int_equal(csod_parse_size("4G"), 4LL << 30);
	assert_int_equal(csod_parse_size("1T"), 1LL << 40);
	assert_int_equal(csod_parse_size("123"), 123);
	assert_int_equal(csod_parse_size("9999999999T"), -1);
	assert_int_equal(csod_parse_size("lots"), -1);
}

/* database { }: SQLite in state_dir unless PostgreSQL is named, with its
 * conninfo; the location csodd, its mailer and csodctl all open. */
static void test_database(void **state)
{
	(void)state;
	csod_error err;
	char path[256];
	csod_db_location loc;
	csod_config *cfg = load_text("state_dir = \"/srv/state\";\n", &err);
	assert_non_null(cfg);
	assert_int_equal(csod_config_db_location(cfg, &loc, path, sizeof path), 0);
	assert_string_equal(loc.backend, "sqlite");
	assert_string_equal(loc.path, "/srv/state/csod.db");
	assert_null(loc.conninfo);
	assert_string_equal(csod_config_db_name(&loc), "/srv/state/csod.db");
	csod_config_free(cfg);
	cfg = load_text("database = { backend = \"postgresql\"; conninfo = \"dbname=csod "
	                "password=secret\"; };\n",
	                &err);
	assert_non_null(cfg);
	assert_int_equal(csod_config_db_location(cfg, &loc, path, sizeof path), 0);
	assert_string_equal(loc.backend, "postgresql");
	assert_string_equal(loc.conninfo, "dbname=csod password=secret");
	assert_null(strstr(csod_config_db_name(&loc), "secret"));
	csod_config_free(cfg);
	expect_error("database = { backend = \"postgresql\"; };\n", "1: database.conninfo");
	expect_error("database = { conninfo = \"dbname=csod\"; };\n", "1: database.conninfo");
	expect_error("database = { backend = \"mysql\"; };\n", "1: database.backend");
	expect_error("database = { backend = \"postgresql\"; conninfo = \"dbname=csod\"; path = "
	             "\"/x\"; };\n",
	             "1: database.path");
	expect_error("database = { user = \"x\"; };\n", "1: database");
	/* Nodes of a cluster on one machine share a SQLite file. */
	cfg = load_text("database = { path = \"/srv/shared/csod.db\"; };\n", &err);
	assert_non_null(cfg);
	assert_int_equal(csod_config_db_location(cfg, &loc, path, sizeof path), 0);
	assert_string_equal(loc.backend, "sqlite");
	assert_string_equal(loc.path, "/srv/shared/csod.db");
	csod_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shipped_files_load),
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_min_free_space, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors_name_file_line_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cross_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timestamp_servers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auto_approve_precedence, setup, teardown),
	    cmocka_unit_test(test_durations_and_sizes),
	    cmocka_unit_test_setup_teardown(test_database, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
