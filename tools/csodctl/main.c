/* csodctl: the administrators' and developers' command line. */
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../daemon/audit.h"
#include "../../daemon/roles.h"
#include "../../lib/log.h"
#include "../../lib/text.h"
#include "ctl.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: csodctl [--config FILE] [--spool DIR] [--json] COMMAND ...\n"
	    "       csodctl --help | --version\n"
	    "  request list [--state S] [--developer D] [--organization O] [--since T]\n"
	    "  request show ID\n"
	    "  request approve|decline ID [-m MESSAGE] [--no-wait]  (also: approve, decline)\n"
	    "  request download ID FILE [-o PATH]\n"
	    "  request resend ID\n"
	    "  developer list | add EMAIL --name N --user U --organization O [--department D]\n"
	    "  developer remove USER\n"
	    "  auto-approve on|off|status [--organization O]\n"
	    "  audit list [--since T] | audit verify\n"
	    "  cert list | show ID | download ID [--format pem|pkcs7] | revoke ID [--reason R]\n"
	    "  cert add --email E --organization O [--name N] [--department D] ... | renew ID\n"
	    "  keys rotate-master\n"
	    "  report\n"
	    "See csodctl(8).\n");
}

int ctl_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("csodctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

csod_db *ctl_open_db(ctl *c, int writable)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/csod.db", c->cfg->state_dir);
	csod_error err;
	csod_db *db = csod_db_open(path, !writable, &err);
	if (!db)
		ctl_error("%s", err.msg);
	return db;
}

int ctl_require_admin(ctl *c, csod_db *db, const char *action, const char *organization,
                      const char *department)
{
	if (c->is_root || (c->admin && csod_admin_covers(c->admin, organization, department)))
		return 0;
	if (db)
		csod_audit(db, c->user, "csodctl.refused", action, "%s%s%s",
		           organization ? organization : "", department && *department ? "/" : "",
		           department ? department : "");
	ctl_error("%s may not %s%s%s%s%s", c->user, action, organization ? " in " : "",
	          organization ? organization : "", department && *department ? "/" : "",
	          department && *department ? department : "");
	return -1;
}

int64_t ctl_parse_since(const char *text)
{
	int64_t ago = csod_parse_duration(text);
	if (ago >= 0 && strchr("smhdw", text[strlen(text) - 1]))
		return csod_now() - ago;
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end) {
		memset(&tm, 0, sizeof tm);
		end = strptime(text, "%Y-%m-%d", &tm);
	}
	if (!end || (*end && strcmp(end, "Z") != 0))
		return -1;
	return (int64_t)timegm(&tm);
}

void ctl_time(int64_t t, char out[32])
{
	if (!t) {
		snprintf(out, 32, "-");
		return;
	}
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
}

int ctl_print_json(ctl *c, json_t *value)
{
	if (!c->json) {
		json_decref(value);
		return 0;
	}
	char *text = value ? json_dumps(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (!text) {
		ctl_error("cannot build the JSON output");
		c->output_error = 1;
	}
	puts(text ? text : "null");
	free(text);
	json_decref(value);
	return 1;
}

const char *ctl_text(ctl *c, const char *row, const char *field, const char *s)
{
	if (!s)
		return "";
	int utf8 = csod_utf8_valid(s, strlen(s));
	if (utf8 && (c->json || !csod_has_control(s)))
		return s;
	char *shown = csod_escape(s);
	char **grown = shown ? realloc(c->shown, sizeof *grown * (size_t)(c->n_shown + 1)) : NULL;
	if (!grown) {
		free(shown);
		c->output_error = 1;
		ctl_error("out of memory");
		return "";
	}
	c->shown = grown;
	c->shown[c->n_shown++] = shown;
	if (c->json && !utf8) {
		ctl_error("%s: %s is not valid UTF-8; shown escaped: %s", row ? row : "-", field,
		          shown);
		c->output_error = 1;
	}
	return shown;
}

void ctl_columns(ctl *c, const char *row, sqlite3_stmt *st, int first, const char *const *fields,
                 int n, const char **out)
{
	for (int i = 0; i < n; i++)
		out[i] = ctl_text(c, row, fields[i], csod_db_text(st, first + i));
}

void ctl_append(ctl *c, json_t *rows, json_t *row, const char *row_name)
{
	if (!row || json_array_append_new(rows, row) < 0) {
		ctl_error("%s: cannot build its JSON row", row_name ? row_name : "-");
		c->output_error = 1;
	}
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'}, {"spool", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	const char *config_path = "/etc/csod/csod.conf", *spool = NULL;
	ctl c;
	memset(&c, 0, sizeof c);
	int opt;
	/* "+": options end at the command; the verbs parse their own. */
	while ((opt = getopt_long(argc, argv, "+c:s:jh", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 's':
			spool = optarg;
			break;
		case 'j':
			c.json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			puts("csodctl " CSOD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	/* Audit entries are mirrored to syslog, not printed. */
	csod_log_open("csodctl", CSOD_LOG_SYSLOG, LOG_NOTICE);
	csod_error err;
	c.cfg = csod_config_load(config_path, spool, &err);
	if (!c.cfg)
		return ctl_error("%s", err.msg);
	if (!realpath(c.cfg->spool, c.spool))
		snprintf(c.spool, sizeof c.spool, "%s", c.cfg->spool);
	c.uid = getuid();
	c.is_root = c.uid == 0;
	struct passwd *pw = getpwuid(c.uid);
	snprintf(c.user, sizeof c.user, "%s", pw ? pw->pw_name : "unknown");
	c.admin = csod_config_admin_by_uid(c.cfg, c.uid);

	const char *cmd = argv[optind];
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	int rc;
	if (strcmp(cmd, "request") == 0)
		rc = cmd_request(&c, sub_argc - 1, sub_argv + 1);
	else if (strcmp(cmd, "approve") == 0 || strcmp(cmd, "decline") == 0)
		rc = cmd_request(&c, sub_argc, sub_argv);
	else if (strcmp(cmd, "audit") == 0)
		rc = cmd_audit(&c, sub_argc - 1, sub_argv + 1);
	else if (strcmp(cmd, "auto-approve") == 0)
		rc = cmd_auto_approve(&c, sub_argc - 1, sub_argv + 1);
	else if (strcmp(cmd, "developer") == 0)
		rc = cmd_developer(&c, sub_argc - 1, sub_argv + 1);
	else if (strcmp(cmd, "mail") == 0)
		rc = cmd_mail(&c, sub_argc - 1, sub_argv + 1);
	else if (strcmp(cmd, "cert") == 0)
		rc = cmd_cert(&c, sub_argc - 1, sub_argv + 1);
	else if (strcmp(cmd, "keys") == 0)
		rc = cmd_keys(&c, sub_argc - 1, sub_argv + 1);
	else if (strcmp(cmd, "report") == 0)
		rc = cmd_report(&c, sub_argc - 1, sub_argv + 1);
	else {
		usage(stderr);
		rc = 2;
	}
	csod_config_free(c.cfg);
	for (int i = 0; i < c.n_shown; i++)
		free(c.shown[i]);
	free(c.shown);
	return rc == 0 && c.output_error ? 1 : rc;
}
