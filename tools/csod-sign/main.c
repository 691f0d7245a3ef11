/* csod-sign: one file, signed by the same engines as the daemon, for
 * scripts and benchmarks. Writes beside OUT, self-checks, then renames. */
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/fsutil.h"
#include "../../signers/common/fileio.h"
#include "../../lib/pkcs11_uri.h"
#include "../../signers/common/curl_runtime.h"
#include "../../signers/signer.h"
#include "load.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: csod-sign --cert CERT.pem --key KEY.pem [--chain FILE] [--digest ALG]...\n"
	        "                 [--timestamp URL] [--timestamp-optional]\n"
	        "                 [--service auto|authenticode|java|android|hash]\n"
	        "                 [--nest] [--msi-dse] [--min-sdk N] [--alias NAME]\n"
	        "                 [--description TEXT] [--url URL]\n"
	        "                 [--no-verify] [--sync] IN OUT\n"
	        "       csod-sign --help | --version\n");
}

typedef struct args {
	const char *cert, *key, *chain, *service, *in, *out;
	char digests[CSOD_MAX_DIGESTS][16];
	int verify;
	int sync; /* --sync: OUT durable (fsynced) before exit */
	csod_sign_options opt;
} args;

static int add_digests(args *a, const char *list)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", list);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!csod_digest_by_name(t) || a->opt.n_digests == CSOD_MAX_DIGESTS) {
			fprintf(stderr,
			        "csod-sign: unknown digest '%s' (md5 sha1 sha256 sha384 "
			        "sha512)\n",
			        t);
			return -1;
		}
		snprintf(a->digests[a->opt.n_digests], sizeof a->digests[0], "%s", t);
		a->opt.digests[a->opt.n_digests] = a->digests[a->opt.n_digests];
		a->opt.n_digests++;
	}
	return 0;
}

static int parse(int argc, char **argv, args *a)
{
	static const struct option options[] = {
	    {"cert", required_argument, NULL, 'c'},
	    {"key", required_argument, NULL, 'k'},
	    {"chain", required_argument, NULL, 'C'},
	    {"digest", required_argument, NULL, 'd'},
	    {"timestamp", required_argument, NULL, 't'},
	    {"timestamp-optional", no_argument, NULL, 'T'},
	    {"service", required_argument, NULL, 's'},
	    {"nest", no_argument, NULL, 'n'},
	    {"msi-dse", no_argument, NULL, 'E'},
	    {"min-sdk", required_argument, NULL, 'm'},
	    {"alias", required_argument, NULL, 'a'},
	    {"description", required_argument, NULL, 'D'},
	    {"url", required_argument, NULL, 'u'},
	    {"no-verify", no_argument, NULL, 'V'},
	    {"sync", no_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'v'},
	    {NULL, 0, NULL, 0},
	};
	memset(a, 0, sizeof *a);
	a->verify = 1;
	a->opt.timestamp_required = 1;
	a->opt.timestamp_retries = 2;
	int c;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->cert = optarg;
			break;
		case 'k':
			a->key = optarg;
			break;
		case 'C':
			a->chain = optarg;
			break;
		case 'd':
			if (add_digests(a, optarg) < 0)
				return 2;
			a->opt.digests_given = 1;
			break;
		case 't':
			a->opt.timestamp_url = optarg;
			break;
		case 'T':
			a->opt.timestamp_required = 0;
			break;
		case 's':
			a->service = optarg;
			break;
		case 'n':
			a->opt.append = 1;
			break;
		case 'E':
			a->opt.msi_dse = 1;
			break;
		case 'm':
			a->opt.min_sdk = atoi(optarg);
			break;
		case 'a':
			a->opt.alias = optarg;
			break;
		case 'D':
			a->opt.description = optarg;
			break;
		case 'u':
			a->opt.url = optarg;
			break;
		case 'V':
			a->verify = 0;
			break;
		case 'S':
			a->sync = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'v':
			puts("csod-sign " CSOD_VERSION);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!a->cert || !a->key || argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	a->in = argv[optind];
	a->out = argv[optind + 1];
	if (a->opt.n_digests == 0)
		add_digests(a, "sha256");
	return 0;
}

static int sign_file(args *a, csod_error *err)
{
	csod_identity id;
	if (csod_load_identity(a->cert, a->key, a->chain, &id, err) < 0) {
		csod_free_identity(&id);
		return -1;
	}
	int in = open(a->in, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1, rc = -1;
	struct stat st;
	char name_buf[PATH_MAX], out_path[PATH_MAX], dir_buf[PATH_MAX], tmp[PATH_MAX] = "";
	X509_STORE *trust = NULL;
	const char *name = NULL;
	if (csod_path(name_buf, sizeof name_buf, "%s", a->in) == 0)
		name = basename(name_buf);
	if (!name) {
		csod_fail(err, "%s: path too long", a->in);
		goto out;
	}
	if (in < 0 || fstat(in, &st) < 0) {
		csod_fail_errno(err, "%s", a->in);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		csod_fail(err, "%s: not a regular file", a->in);
		goto out;
	}
	const csod_signer *s = csod_signer_for(a->service, name, in, err);
	if (!s)
		goto out;
	struct stat ost;
	if (stat(a->out, &ost) == 0 && S_ISDIR(ost.st_mode)) {
		char out_name[NAME_MAX + 1];
		if (csod_output_name(s, name, out_name, sizeof out_name, err) < 0)
			goto out;
		if (csod_path(out_path, sizeof out_path, "%s/%s", a->out, out_name) < 0) {
			csod_fail(err, "%s/%s: path too long", a->out, out_name);
			goto out;
		}
	} else if (csod_path(out_path, sizeof out_path, "%s", a->out) < 0) {
		csod_fail(err, "%s: path too long", a->out);
		goto out;
	}
	snprintf(dir_buf, sizeof dir_buf, "%s", out_path);
	out = csod_tmpfile(dirname(dir_buf), "csod-sign", tmp, sizeof tmp, err);
	if (out < 0)
		goto out;
	a->opt.input_name = name;
	csod_error why;
	if (s->sign(in, out, &id, &a->opt, &why) < 0) {
		csod_fail(err, "%s: %s", a->in, why.msg);
		goto out;
	}
	csod_write_back_all(out);
	if (a->verify && (!(trust = csod_trust_for(&id)) || s->verify(in, out, trust, &why) < 0)) {
		/* Without --chain the certificate is its own trust anchor, so a
		 * certificate issued by a CA cannot chain: say what is missing. */
		const char *hint = !a->chain && strstr(why.msg, "does not chain")
		                       ? " (pass the issuing CA, and any intermediates, with "
		                         "--chain FILE)"
		                       : "";
		csod_fail(err, "%s: the output failed its self-check: %s%s", a->in, why.msg, hint);
		goto out;
	}
	/* Atomic either way (a rename); durable, as the daemon publishes, only
	 * when asked: the tools csod-sign replaces do not fsync, and on a slow
	 * disk the fsync alone can cost more than signing. */
	if (fchmod(out, st.st_mode & 0755) < 0) {
		csod_fail_errno(err, "%s: cannot set its mode", out_path);
		goto out;
	}
	if (a->sync ? csod_publish(tmp, out_path, err) < 0
	            : rename(tmp, out_path) < 0 &&
	                  csod_fail_errno(err, "cannot rename %s to %s", tmp, out_path) < 0)
		goto out;
	tmp[0] = '\0';
	rc = 0;
out:
	if (out >= 0)
		close(out);
	if (tmp[0])
		unlink(tmp);
	if (in >= 0)
		close(in);
	X509_STORE_free(trust);
	csod_free_identity(&id);
	return rc;
}

int main(int argc, char **argv)
{
	/* Before any key is loaded: no core file holds it, and the user this
	 * runs as cannot read its memory through /proc (csodd does the same). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		perror("csod-sign: prctl(PR_SET_DUMPABLE)");
		return 1;
	}
	args a;
	int rc = parse(argc, argv, &a);
	if (rc)
		return rc;
	csod_error err = {.msg = ""};
	rc = sign_file(&a, &err) < 0 ? 1 : 0;
	if (rc)
		fprintf(stderr, "csod-sign: %s\n", err.msg);
	csod_pkcs11_unload();
	csod_curl_unload(); /* loaded only if a timestamp was asked for */
	return rc;
}
