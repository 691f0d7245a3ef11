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
#include <syslog.h>
#include <unistd.h>

#include "../../lib/fsutil.h"
#include "../../lib/pkcs11_uri.h"
#include "../../signers/common/curl_runtime.h"
#include "../../signers/signer.h"
#include "detached.h"
#include "load.h"
#include "staged.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: csod-sign --cert CERT.pem --key KEY.pem [--chain FILE] [--digest ALG]...\n"
	    "                 [--timestamp URL]... [--timestamp-ca FILE] [--timestamp-optional]\n"
	    "                 [--timestamp-legacy] [--verbose]\n"
	    "                 [--service auto|authenticode|java|android|hash] [--nest] "
	    "[--msi-dse] [--deep]\n"
	    "                 [--min-sdk N] [--alias NAME] [--description TEXT] [--url URL]\n"
	    "                 [--no-verify] [--sync] IN OUT\n"
	    "       csod-sign --extract-signature [--service S] [--sync] IN OUT.sig\n"
	    "       csod-sign --attach-signature SIG [--cert CERT.pem | --chain FILE]\n"
	    "                 [--no-verify] [--service S] [--sync] IN OUT\n"
	    "       csod-sign --help | --version\n");
}

typedef struct args {
	const char *cert, *key, *chain, *service, *in, *out;
	int extract;        /* --extract-signature */
	const char *attach; /* --attach-signature SIG */
	char digests[CSOD_MAX_DIGESTS][16];
	int verify;
	int sync; /* --sync: OUT durable (fsynced) before exit */
	int verbose;
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

/* Which TSA answered (with --verbose), and always why one did not or why
 * a signature goes without a timestamp. */
static void note(void *arg, int level, const char *msg)
{
	const args *a = arg;
	if (level <= LOG_NOTICE || a->verbose)
		fprintf(stderr, "csod-sign: %s%s\n", level <= LOG_WARNING ? "warning: " : "", msg);
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
	    {"timestamp-ca", required_argument, NULL, 'A'},
	    {"timestamp-legacy", no_argument, NULL, 'L'},
	    {"verbose", no_argument, NULL, 'b'},
	    {"service", required_argument, NULL, 's'},
	    {"nest", no_argument, NULL, 'n'},
	    {"msi-dse", no_argument, NULL, 'E'},
	    {"deep", no_argument, NULL, 'P'},
	    {"min-sdk", required_argument, NULL, 'm'},
	    {"alias", required_argument, NULL, 'a'},
	    {"description", required_argument, NULL, 'D'},
	    {"url", required_argument, NULL, 'u'},
	    {"no-verify", no_argument, NULL, 'V'},
	    {"sync", no_argument, NULL, 'S'},
	    {"extract-signature", no_argument, NULL, 'x'},
	    {"attach-signature", required_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'v'},
	    {NULL, 0, NULL, 0},
	};
	memset(a, 0, sizeof *a);
	a->verify = 1;
	a->opt.timestamp.required = 1;
	a->opt.timestamp.retries = 2;
	a->opt.timestamp.note = note;
	a->opt.timestamp.note_arg = a;
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
			if (a->opt.timestamp.n_urls == CSOD_MAX_TSA) {
				fprintf(stderr, "csod-sign: at most %d --timestamp servers\n",
				        CSOD_MAX_TSA);
				return 2;
			}
			a->opt.timestamp.urls[a->opt.timestamp.n_urls++] = optarg;
			break;
		case 'T':
			a->opt.timestamp.required = 0;
			break;
		case 'A':
			a->opt.timestamp.ca_file = optarg;
			break;
		case 'L':
			a->opt.timestamp.legacy = 1;
			break;
		case 'b':
			a->verbose = 1;
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
		case 'P':
			a->opt.deep = 1;
			break;
		case 'm': {
			/* As request.conf's min_sdk: an API level, never a silent 0. */
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || v < 1 || v > 1000) {
				fprintf(stderr,
				        "csod-sign: --min-sdk '%s': expected an Android API "
				        "level (1-1000)\n",
				        optarg);
				return 2;
			}
			a->opt.min_sdk = (int)v;
			break;
		}
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
		case 'x':
			a->extract = 1;
			break;
		case 'X':
			a->attach = optarg;
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
	/* Detached signatures need no key; attaching checks the result against
	 * the trust --cert or --chain names, unless --no-verify. */
	int detached = a->extract || a->attach;
	if ((a->extract && a->attach) || (!detached && (!a->cert || !a->key)) ||
	    (a->attach && a->verify && !a->cert && !a->chain) || argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	a->in = argv[optind];
	a->out = argv[optind + 1];
	if (a->opt.n_digests == 0)
		add_digests(a, "sha256");
	return 0;
}

/* A signed output written beside its destination and checked, not yet
 * renamed into place. */
typedef struct staged {
	char tmp[PATH_MAX];
	char dest[PATH_MAX];
} staged;

/* Signs in (the input, or one part of it) into a temporary file beside
 * st->dest and, with trust, self-checks it. label names it in errors. */
static int stage(const csod_signer *s, int in, const char *label, args *a, const csod_identity *id,
                 X509_STORE *trust, mode_t mode, staged *st, csod_error *err)
{
	int out = csod_stage_open(st->dest, st->tmp, sizeof st->tmp, err);
	if (out < 0)
		return -1;
	csod_error why;
	int rc = -1, signed_rc = csod_sign_checked(s, in, out, id, &a->opt, trust, &why);
	int checking = signed_rc == CSOD_CHECK_FAILED;
	if (signed_rc < 0) {
		/* Without --chain the certificate is its own trust anchor, so a
		 * certificate issued by a CA cannot chain: say what is missing. */
		const char *hint = checking && !a->chain && strstr(why.msg, "does not chain")
		                       ? " (pass the issuing CA, and any intermediates, with "
		                         "--chain FILE)"
		                       : "";
		csod_fail(err, "%s: %s%s%s", label,
		          checking ? "the output failed its self-check: " : "", why.msg, hint);
	} else if (fchmod(out, mode) < 0) {
		csod_fail_errno(err, "%s: cannot set its mode", st->dest);
	} else {
		rc = 0;
	}
	close(out);
	if (rc < 0) {
		unlink(st->tmp);
		st->tmp[0] = '\0';
	}
	return rc;
}

static int publish(const args *a, staged *st, csod_error *err)
{
	return csod_stage_publish(st->tmp, st->dest, a->sync, err);
}

/* Where the output of an input goes: OUT, or OUT/<name> when OUT is a
 * folder. */
static int output_path(const csod_signer *s, const char *name, const char *out, int out_is_dir,
                       char *path, size_t len, csod_error *err)
{
	if (!out_is_dir)
		return csod_path(path, len, "%s", out) < 0
		           ? csod_fail(err, "%s: path too long", out)
		           : 0;
	char out_name[NAME_MAX + 1];
	if (csod_output_name(s, name, out_name, sizeof out_name, err) < 0)
		return -1;
	if (csod_path(path, len, "%s/%s", out, out_name) < 0)
		return csod_fail(err, "%s/%s: path too long", out, out_name);
	return 0;
}

static int sign_file(args *a, csod_error *err)
{
	csod_identity id;
	if (csod_load_identity(a->cert, a->key, a->chain, &id, err) < 0) {
		csod_free_identity(&id);
		return -1;
	}
	int in = open(a->in, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc = -1, n_parts = 0, n_staged = 0;
	struct stat st, ost;
	char name_buf[PATH_MAX];
	X509_STORE *trust = NULL;
	csod_part *parts = NULL;
	staged *out = NULL;
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
	csod_error why;
	if (s->split && s->split(in, name, &parts, &n_parts, &why) < 0) {
		csod_fail(err, "%s: %s", a->in, why.msg);
		goto out;
	}
	int out_is_dir = stat(a->out, &ost) == 0 && S_ISDIR(ost.st_mode);
	if (n_parts > 0 && !out_is_dir) {
		csod_fail(err,
		          "%s: lists %d files, each signed into a file of its own (NAME.p7s): "
		          "give a folder as OUT",
		          a->in, n_parts);
		goto out;
	}
	if (a->verify && !(trust = csod_trust_for(&id))) {
		csod_fail_ssl(err, "cannot set up the self-check");
		goto out;
	}
	if (!(out = calloc((size_t)n_parts + 1, sizeof *out))) {
		csod_fail(err, "out of memory");
		goto out;
	}
	a->opt.input_name = name;
	if (n_parts == 0) {
		if (output_path(s, name, a->out, out_is_dir, out[0].dest, sizeof out[0].dest, err) <
		        0 ||
		    stage(s, in, a->in, a, &id, trust, st.st_mode & 0755, &out[0], err) < 0)
			goto out;
		n_staged = 1;
	}
	/* Every line is signed and checked before any is published. */
	for (; n_staged < n_parts; n_staged++) {
		char label[PATH_MAX + 300];
		snprintf(label, sizeof label, "%s: %s", a->in, parts[n_staged].output);
		if (csod_path(out[n_staged].dest, sizeof out[n_staged].dest, "%s/%s", a->out,
		              parts[n_staged].output) < 0) {
			csod_fail(err, "%s: path too long", label);
			goto out;
		}
		if (stage(s, parts[n_staged].fd, label, a, &id, trust, 0644, &out[n_staged], err) <
		    0)
			goto out;
	}
	for (int i = 0; i < n_staged; i++)
		if (publish(a, &out[i], err) < 0)
			goto out;
	rc = 0;
out:
	for (int i = 0; out && i < n_staged; i++)
		if (out[i].tmp[0])
			unlink(out[i].tmp);
	free(out);
	csod_parts_free(parts, n_parts);
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
	if (a.extract) {
		rc = csod_extract_to(a.service, a.in, a.out, a.sync, &err) < 0 ? 1 : 0;
	} else if (a.attach) {
		X509_STORE *trust = NULL;
		rc = a.verify && !(trust = csod_trust_from_files(a.cert, a.chain, &err)) ? 1
		     : csod_attach_to(a.service, a.attach, a.in, a.out, trust, a.sync, &err) < 0
		         ? 1
		         : 0;
		X509_STORE_free(trust);
	} else {
		rc = sign_file(&a, &err) < 0 ? 1 : 0;
	}
	if (rc)
		fprintf(stderr, "csod-sign: %s\n", err.msg);
	csod_pkcs11_unload();
	csod_curl_unload(); /* loaded only if a timestamp was asked for */
	return rc;
}
