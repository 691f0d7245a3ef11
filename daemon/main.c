/* csodd: the code-signing daemon. Parses the command line and hands over to
 * the event loop (loop.c). */
#include <openssl/crypto.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "../lib/log.h"
#include "../signers/common/curl_runtime.h"
#include "config.h"
#include "loop.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: csodd --config FILE [--spool DIR] [--foreground] [--check-config]\n"
	             "  --config FILE    configuration (csod.conf(5))\n"
	             "  --spool DIR      use DIR instead of the file's `spool`\n"
	             "  --foreground     log to stderr instead of syslog\n"
	             "  --check-config   validate the configuration and exit\n"
	             "  --version        print the version and exit\n");
}

/* Enough for the keystore's cached keys (RSA-4096 needs ~3 KB) and the CA's. */
#define SECURE_HEAP_SIZE (1 << 20)

int main(int argc, char **argv)
{
	/* First thing: this process will hold private keys. Not dumpable means
	 * no core file whatever the core limit (systemd's LimitCORE=0 covers
	 * the unit only, not `make demo` or a daemon started by hand), and
	 * /proc/<pid>/mem and the like belong to root, so the user csodd runs
	 * as cannot read its memory through them either. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		perror("csodd: prctl(PR_SET_DUMPABLE)");
		return 1;
	}
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"spool", required_argument, NULL, 's'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"check-config", no_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *spool = NULL;
	int foreground = 0, check_only = 0, opt;
	while ((opt = getopt_long(argc, argv, "c:s:fkh", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 's':
			spool = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'k':
			check_only = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			puts("csodd " CSOD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config_path || optind != argc) {
		usage(stderr);
		return 2;
	}
	csod_error err;
	csod_config *cfg = csod_config_load(config_path, spool, &err);
	if (!cfg) {
		fprintf(stderr, "csodd: %s\n", err.msg);
		return 1;
	}
	if (check_only) {
		printf("%s: configuration OK (%d organization(s), %d developer(s), %d admin(s))\n",
		       config_path, cfg->n_organizations, cfg->n_developers, cfg->n_admins);
		csod_config_free(cfg);
		return 0;
	}
	csod_log_open("csodd", foreground ? csod_log_stderr_target() : CSOD_LOG_SYSLOG, LOG_INFO);
	/* Before any thread: libcurl's global set-up is not thread-safe. A
	 * daemon pays its loading once; if it is missing, only timestamps fail. */
	csod_error curl_err;
	if (!csod_curl_load(&curl_err) && cfg->timestamp.urls)
		csod_log(LOG_WARNING, NULL, "timestamps will fail: %s", curl_err.msg);
	/* Private key components (the keystore keeps unsealed keys) go to
	 * OpenSSL's secure heap: locked in memory, left out of core dumps,
	 * cleansed when freed. Without it (no memory to lock) keys still work. */
	int secure = CRYPTO_secure_malloc_init(SECURE_HEAP_SIZE, 64);
	int rc = csod_daemon_run(cfg, config_path, spool);
	if (secure)
		CRYPTO_secure_malloc_done();
	csod_curl_unload();
	return rc == 0 ? 0 : 1;
}
