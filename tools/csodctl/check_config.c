/* csodctl check-config: csod.conf validated as csodd reads it, and the
 * pre-sign checks it configures tried (clamd answers, the policy hook is a
 * program csodd can run), so that an administrator hears before the first
 * request is held. Runs here, not through csodd: it reads the file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../daemon/clamd.h"
#include "../../daemon/config.h"
#include "ctl.h"

/* Problems found (0 or 1), each said on stderr. */
static int try_clamav(const csod_checks_config *k)
{
	if (!k->clamav_socket && !k->clamav_tcp)
		return 0;
	csod_clamd_target t = {k->clamav_socket, k->clamav_tcp};
	const char *where = k->clamav_socket ? k->clamav_socket : k->clamav_tcp;
	char version[256];
	csod_error err;
	if (csod_clamd_version(&t, 10, version, sizeof version, &err) < 0) {
		ctl_error("checks.clamav: %s; requests are held until clamd answers", err.msg);
		return 1;
	}
	printf("checks.clamav: clamd on %s answers: %s\n", where, version);
	return 0;
}

static int try_policy(const csod_checks_config *k)
{
	if (!k->policy_command)
		return 0;
	const char *program = k->policy_command[0];
	if (access(program, X_OK) < 0) {
		ctl_error("checks.policy.command: cannot run %s: %s; requests are held until it "
		          "can",
		          program, strerror(errno));
		return 1;
	}
	printf("checks.policy: %s (time limit %d s)\n", program, k->policy_timeout_s);
	return 0;
}

int ctl_check_config(const char *path, const char *spool)
{
	csod_error err;
	csod_config *cfg = csod_config_load(path, spool, &err);
	if (!cfg)
		return ctl_error("%s", err.msg);
	printf("%s: configuration OK (%d organization(s), %d developer(s), %d admin(s))\n", path,
	       cfg->n_organizations, cfg->n_developers, cfg->n_admins);
	int problems = try_clamav(&cfg->checks) + try_policy(&cfg->checks);
	if (!csod_config_has_checks(cfg))
		printf("checks: none configured (requests go to approval unchecked)\n");
	csod_config_free(cfg);
	return problems ? 1 : 0;
}
