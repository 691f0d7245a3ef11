/* csod.conf's checks { } block: the pre-sign checks (checks.h) and how to
 * reach them. Everything that can be checked without running them is
 * checked here, so that `csodd --check-config` and a reload refuse a
 * block that could never work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_read.h"
#include "clamd.h"

#define TRY(expr)                                                                                  \
	do {                                                                                       \
		if ((expr) < 0)                                                                    \
			return -1;                                                                 \
	} while (0)

/* A time limit of one second to an hour. */
static int read_timeout(cfg_reader *r, const config_setting_t *g, const char *prefix, int *out)
{
	int64_t v = *out;
	TRY(cfg_duration(r, g, prefix, "timeout", &v));
	if (v < 1 || v > 3600) {
		char key[64];
		snprintf(key, sizeof key, "%s.timeout", prefix);
		return cfg_fail(r, config_setting_get_member(g, "timeout"), key,
		                "expected a duration from 1s to 1h, got %lld s", (long long)v);
	}
	*out = (int)v;
	return 0;
}

static int read_clamav(cfg_reader *r, const config_setting_t *g, csod_checks_config *k)
{
	static const char *const keys[] = {"socket", "tcp", "timeout", NULL};
	TRY(cfg_only_keys(r, g, "checks.clamav", keys));
	TRY(cfg_string(r, g, "checks.clamav", "socket", &k->clamav_socket));
	TRY(cfg_string(r, g, "checks.clamav", "tcp", &k->clamav_tcp));
	TRY(read_timeout(r, g, "checks.clamav", &k->clamav_timeout_s));
	if (!k->clamav_socket == !k->clamav_tcp)
		return cfg_fail(r, g, "checks.clamav",
		                "expected exactly one of socket (clamd's LocalSocket) or tcp "
		                "(\"host:port\" of its TCPSocket)");
	/* A socket's name has room for 107 bytes (sun_path). */
	if (k->clamav_socket && (k->clamav_socket[0] != '/' || strlen(k->clamav_socket) > 107))
		return cfg_fail(r, config_setting_get_member(g, "socket"), "checks.clamav.socket",
		                "expected an absolute path of at most 107 bytes, got \"%s\"",
		                k->clamav_socket);
	char host[256], port[8];
	if (k->clamav_tcp &&
	    csod_clamd_tcp_split(k->clamav_tcp, host, sizeof host, port, sizeof port) < 0)
		return cfg_fail(r, config_setting_get_member(g, "tcp"), "checks.clamav.tcp",
		                "expected \"host:port\" (\"[::1]:3310\" for IPv6), got \"%s\"",
		                k->clamav_tcp);
	return 0;
}

static int read_policy(cfg_reader *r, const config_setting_t *g, csod_checks_config *k)
{
	static const char *const keys[] = {"command", "timeout", NULL};
	TRY(cfg_only_keys(r, g, "checks.policy", keys));
	TRY(cfg_strings(r, g, "checks.policy", "command", &k->policy_command));
	TRY(read_timeout(r, g, "checks.policy", &k->policy_timeout_s));
	const config_setting_t *s = config_setting_get_member(g, "command");
	/* argv, run without a shell: the program is named by its full path. */
	if (!k->policy_command || !k->policy_command[0])
		return cfg_fail(r, s ? s : g, "checks.policy.command",
		                "expected [ \"/path/to/program\", \"argument\", ... ]");
	if (k->policy_command[0][0] != '/')
		return cfg_fail(r, s, "checks.policy.command",
		                "expected the program's absolute path first (it runs without a "
		                "shell), got \"%s\"",
		                k->policy_command[0]);
	return 0;
}

int cfg_read_checks(cfg_reader *r, const config_setting_t *root, csod_config *c)
{
	static const char *const keys[] = {"clamav", "policy", NULL};
	const config_setting_t *g = config_setting_get_member(root, "checks");
	if (!g)
		return 0;
	if (!config_setting_is_group(g))
		return cfg_fail(r, g, "checks", "expected a group { clamav = { ... }; ... }");
	TRY(cfg_only_keys(r, g, "checks", keys));
	const config_setting_t *s;
	if ((s = config_setting_get_member(g, "clamav")))
		TRY(config_setting_is_group(s)
		        ? read_clamav(r, s, &c->checks)
		        : cfg_fail(r, s, "checks.clamav", "expected a group { }"));
	if ((s = config_setting_get_member(g, "policy")))
		TRY(config_setting_is_group(s)
		        ? read_policy(r, s, &c->checks)
		        : cfg_fail(r, s, "checks.policy", "expected a group { }"));
	return 0;
}

void cfg_free_checks(csod_config *c)
{
	free(c->checks.clamav_socket);
	free(c->checks.clamav_tcp);
	cfg_free_strings(c->checks.policy_command);
}

int csod_config_has_checks(const csod_config *cfg)
{
	return cfg->checks.clamav_socket || cfg->checks.clamav_tcp || cfg->checks.policy_command;
}
