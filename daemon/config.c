/* csod.conf: defaults, sections, and the cross-checks between them
 * (developers' organizations and departments, admins' users and scopes). */
#include "config.h"

#include <ctype.h>
#include <grp.h>
#include <libconfig.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../signers/signer.h"
#include "../signers/signer.h"
#include "config_read.h"
#include "developers.h"
#include "email_address.h"

static void set_defaults(csod_config *c)
{
	c->spool = strdup("/var/spool/csod");
	c->settle_ms = 2000;
	c->poll_interval_s = 5;
	c->retention_s = 3 * 86400;
	c->auto_approve = 0;
	c->max_file_size = 4LL << 30;
	c->max_request_files = 1000;
	c->min_free_space = 64LL << 20;
	c->workers = 0;
	c->log_level = strdup("info");
	c->mail.transport = strdup("spool");
	c->mail.from = strdup("csod@localhost");
	c->mail.port = 25;
	c->mail.starttls = strdup("if-available");
	c->mail.timeout_s = 30;
	c->mail.max_age_s = 2 * 86400;
	c->mail.retry_s = 30;
	c->timestamp.required = 1;
	c->timestamp.timeout_s = 10;
	c->timestamp.retries = 2;
	c->keys.backend = strdup("database");
	c->keys.master_key_file = NULL;
	c->ca.backend = strdup("local");
	c->ca.command_timeout_s = 60;
	c->ca.key_algorithm = strdup("rsa");
	c->ca.key_bits = 0; /* by algorithm, below */
	c->ca.term_years = 1;
	c->checks.clamav_timeout_s = 120;
	c->checks.policy_timeout_s = 60;
	c->node_lease_s = 30;
}

/* min_free_space: a size, or a share of the spool's filesystem ("1%"). */
static int read_min_free_space(cfg_reader *r, const config_setting_t *root, csod_config *c)
{
	const config_setting_t *s = config_setting_get_member(root, "min_free_space");
	const char *text = s ? config_setting_get_string(s) : NULL;
	size_t n = text ? strlen(text) : 0;
	if (n == 0 || text[n - 1] != '%')
		return cfg_size(r, root, "", "min_free_space", &c->min_free_space);
	char *end = NULL;
	long pct = isdigit((unsigned char)text[0]) ? strtol(text, &end, 10) : -1;
	if (end != text + n - 1 || pct < 1 || pct > 50)
		return cfg_fail(r, s, "min_free_space",
		                "expected a size such as \"64M\" or a share from \"1%%\" to "
		                "\"50%%\", got \"%s\"",
		                text);
	c->min_free_percent = (int)pct;
	c->min_free_space = 0;
	return 0;
}

static int read_top(cfg_reader *r, const config_setting_t *root, csod_config *c)
{
	static const char *const keys[] = {"spool",
	                                   "state_dir",
	                                   "share_path",
	                                   "settle_ms",
	                                   "poll_interval",
	                                   "retention",
	                                   "auto_approve",
	                                   "max_file_size",
	                                   "max_request_files",
	                                   "min_free_space",
	                                   "workers",
	                                   "log_level",
	                                   "control_socket",
	                                   "mail",
	                                   "timestamp",
	                                   "keys",
	                                   "ca",
	                                   "organizations",
	                                   "developers",
	                                   "admins",
	                                   "approvers_group",
	                                   "checks",
	                                   "node",
	                                   "node_lease",
	                                   "database",
	                                   NULL};
	static const char *const levels[] = {"debug", "info", "notice", "warning", "error", NULL};
	int64_t v;
	TRY(cfg_only_keys(r, root, "", keys));
	TRY(cfg_string(r, root, "", "spool", &c->spool));
	TRY(cfg_string(r, root, "", "state_dir", &c->state_dir));
	TRY(cfg_string(r, root, "", "share_path", &c->share_path));
	TRY(cfg_int(r, root, "", "settle_ms", 0, 3600000, &c->settle_ms));
	TRY(cfg_int(r, root, "", "poll_interval", 0, 86400, &c->poll_interval_s));
	TRY(cfg_duration(r, root, "", "retention", &c->retention_s));
	TRY(cfg_bool(r, root, "", "auto_approve", &c->auto_approve));
	TRY(cfg_size(r, root, "", "max_file_size", &c->max_file_size));
	TRY(cfg_int(r, root, "", "max_request_files", 1, 1000000, &c->max_request_files));
	TRY(read_min_free_space(r, root, c));
	v = c->workers;
	TRY(cfg_int(r, root, "", "workers", 0, 256, &v));
	c->workers = (int)v;
	TRY(cfg_choice(r, root, "", "log_level", levels, &c->log_level));
	TRY(cfg_string(r, root, "", "approvers_group", &c->approvers_group));
	/* Resolved now, like the admins' users: a group that does not exist
	 * is a config error, not an ACL entry that silently grants nothing. */
	if (c->approvers_group) {
		struct group *gr = getgrnam(c->approvers_group);
		if (!gr)
			return cfg_fail(r, config_setting_get_member(root, "approvers_group"),
			                "approvers_group", "no Unix group \"%s\" on this system",
			                c->approvers_group);
		c->approvers_gid = gr->gr_gid;
	}
	TRY(cfg_string(r, root, "", "control_socket", &c->control_socket));
	/* A socket's name has room for 107 bytes (sun_path). */
	if (c->control_socket && (c->control_socket[0] != '/' || strlen(c->control_socket) > 107))
		return cfg_fail(r, config_setting_get_member(root, "control_socket"),
		                "control_socket",
		                "expected an absolute path of at most 107 bytes, got \"%s\"",
		                c->control_socket);
	return 0;
}

static int read_mail(cfg_reader *r, const config_setting_t *g, csod_mail_config *m)
{
	static const char *const keys[] = {
	    "transport", "from",    "host",  "port",    "starttls",  "user", "password_file",
	    "timeout",   "max_age", "retry", "ca_file", "templates", NULL};
	static const char *const transports[] = {"spool", "smtp", "none", NULL};
	static const char *const tls[] = {"never", "if-available", "required", NULL};
	int64_t v;
	TRY(cfg_only_keys(r, g, "mail", keys));
	TRY(cfg_choice(r, g, "mail", "transport", transports, &m->transport));
	TRY(cfg_string(r, g, "mail", "from", &m->from));
	TRY(cfg_string(r, g, "mail", "host", &m->host));
	v = m->port;
	TRY(cfg_int(r, g, "mail", "port", 1, 65535, &v));
	m->port = (int)v;
	TRY(cfg_choice(r, g, "mail", "starttls", tls, &m->starttls));
	TRY(cfg_string(r, g, "mail", "user", &m->user));
	TRY(cfg_string(r, g, "mail", "password_file", &m->password_file));
	v = m->timeout_s;
	TRY(cfg_duration(r, g, "mail", "timeout", &v));
	m->timeout_s = (int)v;
	TRY(cfg_duration(r, g, "mail", "max_age", &m->max_age_s));
	TRY(cfg_duration(r, g, "mail", "retry", &m->retry_s));
	TRY(cfg_string(r, g, "mail", "ca_file", &m->ca_file));
	TRY(cfg_string(r, g, "mail", "templates", &m->templates));
	if (strcmp(m->transport, "smtp") == 0 && !m->host)
		return cfg_fail(r, g, "mail.host", "required when transport is \"smtp\"");
	csod_error why;
	if (csod_email_check(m->from, &why) < 0)
		return cfg_fail(r, config_setting_get_member(g, "from"), "mail.from", "%s",
		                why.msg);
	return 0;
}

static int read_timestamp(cfg_reader *r, const config_setting_t *g, csod_timestamp_config *t)
{
	static const char *const keys[] = {"url",     "ca_file", "required",
	                                   "timeout", "retries", NULL};
	int64_t v;
	TRY(cfg_only_keys(r, g, "timestamp", keys));
	TRY(cfg_strings(r, g, "timestamp", "url", &t->urls));
	TRY(cfg_string(r, g, "timestamp", "ca_file", &t->ca_file));
	TRY(cfg_bool(r, g, "timestamp", "required", &t->required));
	v = t->timeout_s;
	TRY(cfg_duration(r, g, "timestamp", "timeout", &v));
	t->timeout_s = (int)v;
	v = t->retries;
	TRY(cfg_int(r, g, "timestamp", "retries", 0, 10, &v));
	t->retries = (int)v;
	const config_setting_t *url = config_setting_get_member(g, "url");
	int n = 0;
	while (t->urls && t->urls[n])
		n++;
	if (n == 1 && !*t->urls[0]) { /* url = "": no timestamps, as before lists */
		cfg_free_strings(t->urls);
		t->urls = NULL;
		n = 0;
	}
	if (n > CSOD_MAX_TSA)
		return cfg_fail(r, url, "timestamp.url", "at most %d servers, got %d", CSOD_MAX_TSA,
		                n);
	for (int i = 0; i < n; i++)
		if (strncmp(t->urls[i], "http://", 7) != 0 &&
		    strncmp(t->urls[i], "https://", 8) != 0)
			return cfg_fail(r, url, "timestamp.url",
			                "expected an http:// or https:// URL, got \"%s\"",
			                t->urls[i]);
	return 0;
}

static int read_keys(cfg_reader *r, const config_setting_t *g, csod_keys_config *k)
{
	static const char *const keys[] = {"backend", "master_key_file", "pkcs11", NULL};
	static const char *const p11keys[] = {"module", "token", "pin_file", NULL};
	static const char *const backends[] = {"database", "pkcs11", NULL};
	TRY(cfg_only_keys(r, g, "keys", keys));
	TRY(cfg_choice(r, g, "keys", "backend", backends, &k->backend));
	TRY(cfg_string(r, g, "keys", "master_key_file", &k->master_key_file));
	const config_setting_t *p = config_setting_get_member(g, "pkcs11");
	if (p) {
		TRY(cfg_only_keys(r, p, "keys.pkcs11", p11keys));
		TRY(cfg_string(r, p, "keys.pkcs11", "module", &k->pkcs11_module));
		TRY(cfg_string(r, p, "keys.pkcs11", "token", &k->pkcs11_token));
		TRY(cfg_string(r, p, "keys.pkcs11", "pin_file", &k->pkcs11_pin_file));
	}
	if (strcmp(k->backend, "pkcs11") == 0 && (!k->pkcs11_token || !k->pkcs11_pin_file))
		return cfg_fail(r, g, "keys.pkcs11",
		                "token and pin_file are required with backend \"pkcs11\"");
	return 0;
}

static int read_ca(cfg_reader *r, const config_setting_t *g, csod_ca_config *ca)
{
	static const char *const keys[] = {"backend",     "command",       "command_timeout",
	                                   "auto_enroll", "key_algorithm", "key_bits",
	                                   "term_years",  "country",       NULL};
	static const char *const backends[] = {"local", "directory", "command", NULL};
	static const char *const algs[] = {"rsa", "ec", NULL};
	int64_t v;
	TRY(cfg_only_keys(r, g, "ca", keys));
	TRY(cfg_choice(r, g, "ca", "backend", backends, &ca->backend));
	TRY(cfg_string(r, g, "ca", "command", &ca->command));
	v = ca->command_timeout_s;
	TRY(cfg_duration(r, g, "ca", "command_timeout", &v));
	ca->command_timeout_s = (int)v;
	TRY(cfg_bool(r, g, "ca", "auto_enroll", &ca->auto_enroll));
	TRY(cfg_choice(r, g, "ca", "key_algorithm", algs, &ca->key_algorithm));
	v = ca->key_bits;
	TRY(cfg_int(r, g, "ca", "key_bits", 0, 16384, &v));
	ca->key_bits = (int)v;
	v = ca->term_years;
	TRY(cfg_int(r, g, "ca", "term_years", 1, 3, &v));
	ca->term_years = (int)v;
	TRY(cfg_string(r, g, "ca", "country", &ca->subject_country));
	if (strcmp(ca->backend, "command") == 0 && !ca->command)
		return cfg_fail(r, g, "ca.command", "required with backend \"command\"");
	return 0;
}

static int apply_ca_defaults(cfg_reader *r, const config_setting_t *g, csod_ca_config *ca)
{
	int rsa = strcmp(ca->key_algorithm, "rsa") == 0;
	if (ca->key_bits == 0)
		ca->key_bits = rsa ? 3072 : 256;
	int ok = rsa ? (ca->key_bits == 2048 || ca->key_bits == 3072 || ca->key_bits == 4096)
	             : (ca->key_bits == 256 || ca->key_bits == 384);
	if (!ok)
		return cfg_fail(r, g ? config_setting_get_member(g, "key_bits") : NULL,
		                "ca.key_bits", "expected %s, got %d",
		                rsa ? "2048, 3072 or 4096 for rsa" : "256 or 384 for ec",
		                ca->key_bits);
	return 0;
}

csod_config *csod_config_load(const char *path, const char *spool_override, csod_error *err)
{
	csod_config *c = calloc(1, sizeof *c);
	if (!c) {
		csod_fail(err, "out of memory");
		return NULL;
	}
	set_defaults(c);
	c->path = strdup(path);
	config_t cf;
	config_init(&cf);
	cfg_reader r = {path, err};
	int rc = -1;
	if (!config_read_file(&cf, path)) {
		if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
			csod_fail(err, "%s: cannot read the file", path);
		else
			csod_fail(err, "%s:%d: syntax error: %s", path, config_error_line(&cf),
			          config_error_text(&cf));
		goto out;
	}
	const config_setting_t *root = config_root_setting(&cf);
	const config_setting_t *g;
	if (read_top(&r, root, c) < 0)
		goto out;
	if ((g = config_setting_get_member(root, "mail")) && read_mail(&r, g, &c->mail) < 0)
		goto out;
	if ((g = config_setting_get_member(root, "timestamp")) &&
	    read_timestamp(&r, g, &c->timestamp) < 0)
		goto out;
	if ((g = config_setting_get_member(root, "keys")) && read_keys(&r, g, &c->keys) < 0)
		goto out;
	if ((g = config_setting_get_member(root, "ca")) && read_ca(&r, g, &c->ca) < 0)
		goto out;
	if (apply_ca_defaults(&r, config_setting_get_member(root, "ca"), &c->ca) < 0)
		goto out;
	if (cfg_read_checks(&r, root, c) < 0 || cfg_read_database(&r, root, c) < 0 ||
	    cfg_read_cluster(&r, root, c) < 0)
		goto out;
	if (cfg_read_organizations(&r, root, c) < 0 || cfg_read_developers(&r, root, c) < 0 ||
	    cfg_read_admins(&r, root, c) < 0)
		goto out;
	if (spool_override) {
		free(c->spool);
		c->spool = strdup(spool_override);
	}
	if (!c->state_dir) {
		size_t n = strlen(c->spool) + sizeof "/state";
		if ((c->state_dir = malloc(n)))
			snprintf(c->state_dir, n, "%s/state", c->spool);
	}
	if (!c->spool || !c->state_dir) {
		csod_fail(err, "out of memory");
		goto out;
	}
	rc = 0;
out:
	config_destroy(&cf);
	if (rc < 0) {
		csod_config_free(c);
		return NULL;
	}
	return c;
}

void csod_config_free(csod_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->spool);
	free(c->state_dir);
	free(c->share_path);
	free(c->log_level);
	free(c->approvers_group);
	free(c->control_socket);
	free(c->mail.transport);
	free(c->mail.from);
	free(c->mail.host);
	free(c->mail.starttls);
	free(c->mail.user);
	free(c->mail.password_file);
	free(c->mail.ca_file);
	cfg_free_strings(c->timestamp.urls);
	free(c->timestamp.ca_file);
	free(c->mail.templates);
	free(c->keys.backend);
	free(c->keys.master_key_file);
	free(c->keys.pkcs11_module);
	free(c->keys.pkcs11_token);
	free(c->keys.pkcs11_pin_file);
	free(c->ca.backend);
	free(c->ca.command);
	free(c->ca.key_algorithm);
	free(c->ca.subject_country);
	cfg_free_lists(c);
	cfg_free_checks(c);
	cfg_free_database(c);
	cfg_free_cluster(c);
	free(c);
}

const csod_developer *csod_config_developer(const csod_config *cfg, const char *user)
{
	for (int i = 0; i < cfg->n_developers; i++)
		if (strcmp(cfg->developers[i].user, user) == 0)
			return &cfg->developers[i];
	return NULL;
}

const csod_organization *csod_config_organization(const csod_config *cfg, const char *name)
{
	for (int i = 0; name && i < cfg->n_organizations; i++)
		if (strcmp(cfg->organizations[i].name, name) == 0)
			return &cfg->organizations[i];
	return NULL;
}

const csod_admin *csod_config_admin_by_uid(const csod_config *cfg, uid_t uid)
{
	for (int i = 0; i < cfg->n_admins; i++)
		if (cfg->admins[i].uid == uid)
			return &cfg->admins[i];
	return NULL;
}

int csod_config_auto_approve(const csod_config *cfg, const char *organization)
{
	const csod_organization *org = csod_config_organization(cfg, organization);
	if (org && org->auto_approve >= 0)
		return org->auto_approve;
	return cfg->auto_approve;
}

int csod_config_master_key(const csod_config *c, char *buf, size_t len, int *credential)
{
	*credential = 0;
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	if (creds && *creds && csod_path(buf, len, "%s/master.key", creds) == 0 &&
	    access(buf, F_OK) == 0) {
		*credential = 1;
		return 0;
	}
	const char *file = c->keys.master_key_file;
	if (!file)
		return csod_path(buf, len, "%s/master.key", c->state_dir);
	if (file[0] == '/')
		return csod_path(buf, len, "%s", file);
	return csod_path(buf, len, "%s/%s", c->spool, file);
}
