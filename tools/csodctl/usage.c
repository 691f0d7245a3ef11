/* What csodctl's verbs are and how each is used: per-verb --help, unknown
 * verbs with the nearest real one, and --json wherever it is written. All
 * of it before the configuration, the database or csodd are touched, so
 * that help and usage errors work for anyone, anywhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

typedef struct verb_usage {
	const char *verb;
	const char *sub; /* NULL: the verb itself (or one without sub-verbs) */
	const char *usage;
} verb_usage;

/* Each line is printed after "usage: csodctl ". The first entry of a verb
 * (sub NULL) is its summary; verbs with sub-verbs list them after it. */
static const verb_usage usages[] = {
    {"request", NULL, "request list|show|approve|decline|recheck|download|resend ..."},
    {"request", "list",
     "request list [--state S] [--developer D] [--organization O] [--since T] [--json]\n"
     "  S: " CTL_STATES "\n"
     "  T: a date (2026-11-01), a date and time (2026-11-01T10:00:00Z) or an age (3d)"},
    {"request", "show", "request show ID [--json]"},
    {"request", "approve", "request approve ID [-m MESSAGE] [--no-wait]"},
    {"request", "decline", "request decline ID [-m MESSAGE] [--no-wait]"},
    {"request", "recheck",
     "request recheck ID [-m MESSAGE] [--no-wait]  (run its pre-sign checks again)"},
    {"request", "download", "request download ID FILE [-o PATH] | ID --submitted [--to DIR]"},
    {"request", "resend", "request resend ID"},
    {"approve", NULL, "approve ID [-m MESSAGE] [--no-wait]  (request approve)"},
    {"decline", NULL, "decline ID [-m MESSAGE] [--no-wait]  (request decline)"},
    {"developer", NULL, "developer list|add|edit|reset|welcome|remove ..."},
    {"developer", "list", "developer list [--json]"},
    {"developer", "add",
     "developer add EMAIL --name N --user U --organization O [--department D] ... [--welcome]\n"
     "  (--organization again for each further place; the first is the default)"},
    {"developer", "edit",
     "developer edit USER [--email E] [--name N] [--organization O [--department D]]...\n"
     "  (organizations given replace the places; --department alone changes the first)"},
    {"developer", "reset", "developer reset USER"},
    {"developer", "welcome", "developer welcome USER"},
    {"developer", "remove", "developer remove USER"},
    {"cert", NULL,
     "cert list|show|download|add|renew|revoke|suspend-notifications|resume-notifications ..."},
    {"cert", "list", "cert list [--json]"},
    {"cert", "show", "cert show ID [--json]"},
    {"cert", "download", "cert download ID [--format pem|pkcs7]"},
    {"cert", "add",
     "cert add --email E --organization O [--name N] [--department D] [--domain D]\n"
     "         [--contact-email E] [--term 1-3] [--algorithm rsa|ecdsa] [--key-size N] "
     "[--csod]"},
    {"cert", "renew", "cert renew ID"},
    {"cert", "revoke", "cert revoke ID [--reason R]"},
    {"cert", "suspend-notifications", "cert suspend-notifications ID  (no mail about it)"},
    {"cert", "resume-notifications", "cert resume-notifications ID"},
    {"keys", NULL, "keys rotate-master"},
    {"keys", "rotate-master", "keys rotate-master  (root, with csodd stopped)"},
    {"mail", NULL, "mail list|retry"},
    {"mail", "list", "mail list [--json]"},
    {"mail", "retry", "mail retry"},
    {"node", NULL, "node list"},
    {"node", "list", "node list [--json]  (cluster nodes, heartbeats, what each holds)"},
    {"auto-approve", NULL, "auto-approve on|off|status [--organization O] [--json]"},
    {"audit", NULL, "audit list|verify ..."},
    {"audit", "list", "audit list [--since T] [--json]"},
    {"audit", "verify", "audit verify"},
    {"report", NULL, "report [--json]"},
    {"check-config", NULL, "check-config  (validates csod.conf and tries its pre-sign checks)"},
};
#define N_USAGES (sizeof usages / sizeof usages[0])

/* Verbs whose first argument is a value, not a sub-verb. */
static int takes_sub(const char *verb)
{
	for (size_t i = 0; i < N_USAGES; i++)
		if (usages[i].sub && strcmp(usages[i].verb, verb) == 0)
			return 1;
	return 0;
}

static const verb_usage *find(const char *verb, const char *sub)
{
	for (size_t i = 0; i < N_USAGES; i++)
		if (strcmp(usages[i].verb, verb) == 0 &&
		    (sub ? usages[i].sub && strcmp(usages[i].sub, sub) == 0 : !usages[i].sub))
			return &usages[i];
	return NULL;
}

void ctl_verb_usage(FILE *out, const char *verb, const char *sub)
{
	const verb_usage *u = sub ? find(verb, sub) : NULL;
	if (u) {
		fprintf(out, "usage: csodctl %s\n", u->usage);
		return;
	}
	for (size_t i = 0; i < N_USAGES; i++)
		if (strcmp(usages[i].verb, verb) == 0)
			fprintf(out, "%s csodctl %s\n",
			        usages[i].sub ? "      " : "usage:", usages[i].usage);
	fputs("See csodctl(8).\n", out);
}

int ctl_usage_error(const char *verb, const char *sub)
{
	ctl_verb_usage(stderr, verb, sub);
	return 2;
}

/* Levenshtein distance, for "did you mean". */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = calloc(lb + 1, sizeof *row);
	if (!row)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	size_t d = row[lb];
	free(row);
	return d;
}

/* "unknown command 'requst' (did you mean 'request'?)": the nearest of the
 * verbs (verb NULL) or of verb's sub-verbs; exit status 2. */
static int unknown(const char *verb, const char *word)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	for (size_t i = 0; i < N_USAGES; i++) {
		const char *name = verb ? usages[i].sub : usages[i].verb;
		if (!name || (verb && strcmp(usages[i].verb, verb) != 0))
			continue;
		size_t d = distance(word, name);
		if (d < best_d) {
			best_d = d;
			best = name;
		}
	}
	/* A suggestion only when it is near: more than half the word wrong
	 * is no typo. */
	size_t len = strlen(word);
	int near = best && best_d <= 3 && best_d * 2 <= (len > 2 ? len : 2);
	fprintf(stderr, "csodctl: unknown command '%s%s%s'", verb ? verb : "", verb ? " " : "",
	        word);
	if (near)
		fprintf(stderr, " (did you mean '%s%s%s'?)\n", verb ? verb : "", verb ? " " : "",
		        best);
	else
		fprintf(stderr, " (see csodctl --help)\n");
	return 2;
}

static int is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Options of the verbs that take no value: any other option's next
 * argument is its value, never --json or --help. */
static int is_flag(const char *arg)
{
	static const char *const flags[] = {"--no-wait", "--csod", "--json", "--help", "-h"};
	if (arg[0] != '-' || strchr(arg, '='))
		return 1;
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (strcmp(arg, flags[i]) == 0)
			return 1;
	return 0;
}

int ctl_prepare(int *argc, char **argv, int *json)
{
	int n = 0, help = 0, value_next = 0, rest = 0;
	for (int i = 0; i < *argc; i++) {
		const char *arg = argv[i];
		if (!rest && !value_next && strcmp(arg, "--") == 0)
			rest = 1;
		if (!rest && !value_next && strcmp(arg, "--json") == 0) {
			*json = 1;
			continue;
		}
		if (!rest && !value_next && is_help(arg))
			help = 1;
		value_next = !rest && !value_next && !is_flag(arg);
		argv[n++] = argv[i];
	}
	*argc = n;
	argv[n] = NULL;
	if (n == 0)
		return help ? (ctl_usage(stdout), 0) : (ctl_usage(stderr), 2);
	const char *verb = argv[0];
	if (!find(verb, NULL))
		return is_help(verb) ? (ctl_usage(stdout), 0) : unknown(NULL, verb);
	const char *sub = n > 1 && takes_sub(verb) ? argv[1] : NULL;
	if (sub && is_help(sub))
		sub = NULL;
	if (sub && !find(verb, sub))
		return unknown(verb, sub);
	if (help) {
		ctl_verb_usage(stdout, verb, sub);
		return 0;
	}
	if (takes_sub(verb) && !sub)
		return ctl_usage_error(verb, NULL);
	return -1;
}

void ctl_usage(FILE *out)
{
	fputs("usage: csodctl [--config FILE] [--spool DIR] [--socket PATH] [--offline] [--json]\n"
	      "               COMMAND ... [--json]\n"
	      "       csodctl [COMMAND [SUBCOMMAND]] --help | --version\n",
	      out);
	for (size_t i = 0; i < N_USAGES; i++)
		if (usages[i].sub || !takes_sub(usages[i].verb))
			fprintf(out, "  %.*s\n", (int)strcspn(usages[i].usage, "\n"),
			        usages[i].usage);
	fputs("See csodctl(8).\n", out);
}
