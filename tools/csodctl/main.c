/* csodctl: the administrators' and developers' command line. */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../daemon/audit.h"
#include "../../daemon/control_wire.h"
#include "../../daemon/request.h"
#include "../../daemon/roles.h"
#include "../../lib/log.h"
#include "../../lib/text.h"
#include "ctl.h"

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

void ctl_set_caller(ctl *c, uid_t uid)
{
	c->uid = uid;
	c->is_root = uid == 0;
	struct passwd *pw = getpwuid(uid);
	/* Not a user name anyone can have: never someone else's requests. */
	if (pw)
		snprintf(c->user, sizeof c->user, "%s", pw->pw_name);
	else
		snprintf(c->user, sizeof c->user, "uid:%u", (unsigned)uid);
	c->admin = c->cfg ? csod_config_admin_by_uid(c->cfg, uid) : NULL;
}

int ctl_sees_all(const ctl *c)
{
	return c->is_root || (c->admin && c->admin->role == CSOD_ROLE_MRAO);
}

int ctl_may_see(const ctl *c, const char *developer, const char *organization,
                const char *department)
{
	if (c->is_root || (c->admin && csod_admin_covers(c->admin, organization, department)))
		return 1;
	return developer && strcmp(developer, c->user) == 0;
}

static int scope_row(csod_db *db, const char *kind, const char *name, const char *department)
{
	csod_stmt *st = csod_db_prepare(
	    db, "INSERT INTO ctl_scope(scope_kind, scope_name, scope_department) VALUES(?, ?, ?)",
	    NULL);
	if (!st)
		return -1;
	csod_db_bind_text(st, 1, kind);
	csod_db_bind_text(st, 2, name);
	csod_db_bind_text(st, 3, department);
	int rc = csod_db_step(st) == CSOD_DB_DONE ? 0 : -1;
	csod_db_finalize(st);
	return rc;
}

/* What CTL_VISIBLE reads: the caller's own requests, and what their role
 * covers (roles.c's csod_admin_covers, as rows). */
static int fill_scope(const ctl *c, csod_db *db)
{
	if (csod_db_exec(
	        db,
	        "CREATE TEMPORARY TABLE ctl_scope(scope_kind TEXT NOT NULL, scope_name TEXT, "
	        "scope_department TEXT)",
	        NULL) < 0 ||
	    scope_row(db, "user", c->user, NULL) < 0)
		return -1;
	if (c->is_root || (c->admin && c->admin->role == CSOD_ROLE_MRAO))
		return scope_row(db, "all", NULL, NULL);
	if (!c->admin)
		return 0;
	if (c->admin->role == CSOD_ROLE_RAO)
		for (int i = 0; c->admin->organizations && c->admin->organizations[i]; i++)
			if (scope_row(db, "org", c->admin->organizations[i], NULL) < 0)
				return -1;
	if (c->admin->role == CSOD_ROLE_DRAO)
		for (int i = 0; c->admin->departments && c->admin->departments[i]; i++) {
			const char *pair = c->admin->departments[i];
			const char *slash = strchr(pair, '/');
			if (!slash)
				continue; /* the config refuses these */
			char *org = strndup(pair, (size_t)(slash - pair));
			int rc = org ? scope_row(db, "dept", org, slash + 1) : -1;
			free(org);
			if (rc < 0)
				return -1;
		}
	return 0;
}

csod_db *ctl_open_db(ctl *c, int writable)
{
	char path[PATH_MAX + 32];
	csod_db_location where;
	csod_error err;
	if (csod_config_db_location(c->cfg, &where, path, sizeof path) < 0) {
		ctl_error("state_dir path too long: %s", c->cfg->state_dir);
		return NULL;
	}
	csod_db *db = csod_db_open_at(&where, !writable, &err);
	if (!db) {
		ctl_error("%s", err.msg);
		return NULL;
	}
	if (fill_scope(c, db) < 0) {
		ctl_error("database: %s", csod_db_errmsg(db));
		csod_db_close(db);
		return NULL;
	}
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

json_t *ctl_json_time(int64_t t)
{
	char iso[32];
	csod_iso_time(t, iso);
	return t ? json_string(iso) : json_null();
}

json_t *ctl_json_text(const char *s)
{
	return s && *s ? json_string(s) : json_null();
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

void ctl_columns(ctl *c, const char *row, csod_stmt *st, int first, const char *const *fields,
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

int ctl_run(ctl *c, int argc, char **argv)
{
	const char *cmd = argv[0];
	if (strcmp(cmd, "request") == 0)
		return cmd_request(c, argc - 1, argv + 1);
	if (strcmp(cmd, "approve") == 0 || strcmp(cmd, "decline") == 0)
		return cmd_request(c, argc, argv);
	if (strcmp(cmd, "audit") == 0)
		return cmd_audit(c, argc - 1, argv + 1);
	if (strcmp(cmd, "auto-approve") == 0)
		return cmd_auto_approve(c, argc - 1, argv + 1);
	if (strcmp(cmd, "developer") == 0)
		return cmd_developer(c, argc - 1, argv + 1);
	if (strcmp(cmd, "mail") == 0)
		return cmd_mail(c, argc - 1, argv + 1);
	if (strcmp(cmd, "node") == 0)
		return cmd_node(c, argc - 1, argv + 1);
	if (strcmp(cmd, "cert") == 0)
		return cmd_cert(c, argc - 1, argv + 1);
	if (strcmp(cmd, "keys") == 0)
		return cmd_keys(c, argc - 1, argv + 1);
	if (strcmp(cmd, "report") == 0)
		return cmd_report(c, argc - 1, argv + 1);
	/* ctl_prepare has refused unknown verbs already. */
	ctl_usage(stderr);
	return 2;
}

int ctl_finish(ctl *c, int rc)
{
	csod_config_free(c->cfg);
	for (int i = 0; i < c->n_shown; i++)
		free(c->shown[i]);
	free(c->shown);
	return rc == 0 && c->output_error ? 1 : rc;
}

static int is_rotate_master(int argc, char **argv)
{
	return argc >= 2 && strcmp(argv[0], "keys") == 0 && strcmp(argv[1], "rotate-master") == 0;
}

static int load_config(ctl *c, const char *path, const char *spool)
{
	csod_error err;
	c->cfg = csod_config_load(path, spool, &err);
	if (!c->cfg) {
		ctl_error("%s", err.msg);
		return -1;
	}
	if (!realpath(c->cfg->spool, c->spool))
		snprintf(c->spool, sizeof c->spool, "%s", c->cfg->spool);
	return 0;
}

/* Through csodd's control socket: the client. Root alone falls back to
 * working on the database itself when nothing listens there (csodd is
 * stopped); everyone else is told csodd cannot be reached. 0 when the
 * command ran through csodd (*rc its status), 1 to go offline. */
static int through_csodd(ctl *c, const char *socket_opt, int argc, char **argv, int *rc)
{
	char path[PATH_MAX];
	if (socket_opt)
		snprintf(path, sizeof path, "%s", socket_opt);
	else if (!c->cfg)
		snprintf(path, sizeof path, "%s", CTL_DEFAULT_SOCKET);
	else if (csod_control_socket_path(c->cfg, c->spool, path, sizeof path) < 0) {
		/* csodd runs without a socket then (control.h). */
		if (getuid() == 0)
			return 1;
		*rc = ctl_error("csodd has no control socket: %s/run/csod.sock would be too long "
		                "(control_socket in csod.conf(5))",
		                c->spool);
		return 0;
	}
	int fd = ctl_connect(path);
	if (fd >= 0) {
		*rc = ctl_client(fd, c->json, argc, argv);
		return 0;
	}
	if (getuid() == 0 && (errno == ENOENT || errno == ECONNREFUSED))
		return 1;
	*rc = ctl_error("cannot reach csodd on %s: %s (is it running?%s)", path, strerror(errno),
	                getuid() == 0 ? "" : " only root can work without it");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"spool", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"socket", required_argument, NULL, 'S'},
	    {"offline", no_argument, NULL, 'O'},
	    {"serve", no_argument, NULL, 'E'},
	    {"caller-uid", required_argument, NULL, 'U'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = "/etc/csod/csod.conf", *spool = NULL, *socket_opt = NULL;
	const char *caller_uid = NULL;
	int offline = 0, serve = 0, json = 0, opt;
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
			json = 1;
			break;
		case 'S':
			socket_opt = optarg;
			break;
		case 'O':
			offline = 1;
			break;
		case 'E':
			serve = 1;
			break;
		case 'U':
			caller_uid = optarg;
			break;
		case 'h':
			ctl_usage(stdout);
			return 0;
		case 'V':
			puts("csodctl " CSOD_VERSION);
			return 0;
		default:
			ctl_usage(stderr);
			return 2;
		}
	}
	/* Audit entries are mirrored to syslog, not printed. */
	csod_log_open("csodctl", CSOD_LOG_SYSLOG, LOG_NOTICE);
	if (serve || caller_uid) {
		if (!serve || !caller_uid || optind != argc || json || offline || socket_opt)
			return ctl_error("--serve --caller-uid UID --config FILE [--spool DIR] is "
			                 "csodd's own (csodd(8), CONTROL SOCKET)") +
			       1;
		return ctl_serve(config_path, spool, caller_uid);
	}
	int cmd_argc = argc - optind;
	char **cmd_argv = argv + optind;
	/* Help, unknown verbs and --json after the verb: before the
	 * configuration, the database or csodd are needed. */
	int usage_rc = ctl_prepare(&cmd_argc, cmd_argv, &json);
	if (usage_rc >= 0)
		return usage_rc;
	if (strcmp(cmd_argv[0], "check-config") == 0)
		return cmd_argc == 1 ? ctl_check_config(config_path, spool)
		                     : ctl_usage_error("check-config", NULL);
	ctl c;
	memset(&c, 0, sizeof c);
	c.json = json;
	int root = getuid() == 0;
	/* Root's alone, with csodd stopped: it holds the master key. */
	if (!root && is_rotate_master(cmd_argc, cmd_argv)) {
		ctl_set_caller(&c, getuid());
		return ctl_error("%s may not rotate the master key (root only, with csodd stopped)",
		                 c.user);
	}
	if (offline && !root)
		return ctl_error("--offline is for root only: other users go through csodd");
	int rc = 0, go_offline = offline || is_rotate_master(cmd_argc, cmd_argv);
	/* The file names the socket; a user who may not read it (the
	 * installed 0640 root:root) finds csodd at the default place. */
	if (!go_offline && !socket_opt && (root || access(config_path, R_OK) == 0) &&
	    load_config(&c, config_path, spool) < 0)
		return ctl_finish(&c, 1);
	if (!go_offline)
		go_offline = through_csodd(&c, socket_opt, cmd_argc, cmd_argv, &rc);
	if (go_offline && (c.cfg || load_config(&c, config_path, spool) == 0)) {
		ctl_set_caller(&c, getuid());
		rc = ctl_run(&c, cmd_argc, cmd_argv);
	} else if (go_offline) {
		rc = 1;
	}
	return ctl_finish(&c, rc);
}
