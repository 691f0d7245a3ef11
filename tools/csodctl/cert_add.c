/* csodctl cert add / renew: record an order (state init) that csodd works
 * on its next pass: the key is generated in csodd's keystore, never here. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../daemon/audit.h"
#include "../../daemon/email_address.h"
#include "../../daemon/pki.h"
#include "ctl.h"

typedef struct cert_fields {
	const char *email, *name, *org, *dept, *domain, *contact, *alg;
	int term, bits, csod;
	char user[80];
} cert_fields;

/* --domain must be one of the organization's domains (as the email's
 * domain must): 0, or 1 after saying which ones it may be. */
static int domain_refused(const csod_organization *o, const char *domain)
{
	if (!domain || !o->domains || !o->domains[0])
		return 0;
	char list[1024] = "";
	for (int i = 0; o->domains[i]; i++) {
		if (strcasecmp(domain, o->domains[i]) == 0)
			return 0;
		size_t n = strlen(list);
		snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", o->domains[i]);
	}
	return ctl_error("refused: --domain %s is not a domain of %s (its domains: %s)", domain,
	                 o->name, list);
}

static int valid(ctl *c, csod_db *db, cert_fields *f)
{
	int rsa = strcmp(f->alg, "rsa") == 0;
	if (!rsa && strcmp(f->alg, "ecdsa") != 0 && strcmp(f->alg, "ec") != 0)
		return ctl_error("--algorithm must be rsa or ecdsa, not %s", f->alg) + 1;
	if (!f->bits)
		f->bits = rsa ? 3072 : 256;
	if (rsa ? (f->bits != 2048 && f->bits != 3072 && f->bits != 4096)
	        : (f->bits != 256 && f->bits != 384))
		return ctl_error("--key-size %d is not valid for %s (%s)", f->bits, f->alg,
		                 rsa ? "2048, 3072 or 4096" : "256 or 384") +
		       1;
	if (f->term < 1 || f->term > 3)
		return ctl_error("--term must be 1 to 3 years") + 1;
	const csod_organization *o = csod_config_organization(c->cfg, f->org);
	if (!o)
		return ctl_error("no organization \"%s\" in the configuration", f->org);
	csod_error why;
	if (csod_email_check(f->email, &why) < 0 ||
	    (f->contact && csod_email_check(f->contact, &why) < 0))
		return ctl_error("%s", why.msg);
	if (!csod_domain_allowed(c->cfg, f->org, f->email))
		return ctl_error("refused: email %s is not in a domain of %s", f->email, f->org);
	if (domain_refused(o, f->domain))
		return 1;
	if (ctl_require_admin(c, db, "enroll certificates", f->org, f->dept) < 0)
		return 1;
	csod_stmt *st = csod_db_prepare(
	    db, "SELECT \"user\" FROM developers WHERE email = ? AND removed IS NULL", NULL);
	csod_db_bind_text(st, 1, f->email);
	int found = st && csod_db_step(st) == CSOD_DB_ROW;
	if (found)
		snprintf(f->user, sizeof f->user, "%s", csod_db_text(st, 0));
	csod_db_finalize(st);
	if (!found)
		return ctl_error("no developer with email %s (csodctl developer add first)",
		                 f->email);
	return 0;
}

static int record(ctl *c, csod_db *db, const cert_fields *f, const char *action)
{
	const char *at = strrchr(f->email, '@');
	csod_stmt *st = csod_db_prepare(
	    db,
	    "INSERT INTO certificates(developer, organization, department, email, full_name,"
	    " contact_email, domain, term_years, algorithm, key_bits, csod, state) VALUES(?, ?,"
	    " ?, ?, ?, ?, ?, ?, ?, ?, ?, 'init') RETURNING id",
	    NULL);
	const char *texts[] = {f->user,
	                       f->org,
	                       f->dept,
	                       f->email,
	                       f->name,
	                       f->contact, /* only when given: it goes into the certificate */
	                       f->domain ? f->domain
	                       : at      ? at + 1
	                                 : NULL};
	for (int i = 0; st && i < 7; i++)
		csod_db_bind_text(st, i + 1, texts[i]);
	csod_db_bind_int(st, 8, f->term);
	csod_db_bind_text(st, 9, strcmp(f->alg, "rsa") == 0 ? "rsa" : "ec");
	csod_db_bind_int(st, 10, f->bits);
	csod_db_bind_int(st, 11, f->csod);
	int ok = st && csod_db_step(st) == CSOD_DB_ROW;
	char id[32];
	snprintf(id, sizeof id, "%lld", ok ? (long long)csod_db_column_int64(st, 0) : -1LL);
	csod_db_finalize(st);
	if (!ok)
		return ctl_error("database: %s", csod_db_errmsg(db));
	csod_audit(db, c->user, action, id, "%s, %s", f->email, f->org);
	printf("certificate %s ordered for %s: csodd enrolls it (csodctl cert show %s)\n", id,
	       f->user, id);
	return 0;
}

int ctl_cert_add(ctl *c, csod_db *db, int argc, char **argv)
{
	static const struct option options[] = {
	    {"email", required_argument, NULL, 'e'},
	    {"name", required_argument, NULL, 'n'},
	    {"organization", required_argument, NULL, 'o'},
	    {"department", required_argument, NULL, 'd'},
	    {"domain", required_argument, NULL, 'D'},
	    {"contact-email", required_argument, NULL, 'c'},
	    {"term", required_argument, NULL, 't'},
	    {"algorithm", required_argument, NULL, 'a'},
	    {"key-size", required_argument, NULL, 'k'},
	    {"csod", no_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	cert_fields f = {NULL, "", NULL, NULL, NULL, NULL, "rsa", 1, 0, 0, ""};
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'e':
			f.email = optarg;
			break;
		case 'n':
			f.name = optarg;
			break;
		case 'o':
			f.org = optarg;
			break;
		case 'd':
			f.dept = optarg;
			break;
		case 'D':
			f.domain = optarg;
			break;
		case 'c':
			f.contact = optarg;
			break;
		case 't':
			f.term = atoi(optarg);
			break;
		case 'a':
			f.alg = optarg;
			break;
		case 'k':
			f.bits = atoi(optarg);
			break;
		case 's':
			f.csod = 1;
			break;
		default:
			return ctl_usage_error("cert", "add");
		}
	}
	if (optind != argc || !f.email || !f.org)
		return ctl_usage_error("cert", "add");
	int rc = valid(c, db, &f);
	return rc ? rc : record(c, db, &f, "cert.add");
}

int ctl_cert_renew(ctl *c, csod_db *db, const char *id)
{
	csod_stmt *st = csod_db_prepare(
	    db,
	    "SELECT email, COALESCE(full_name, ''), organization, department, domain, "
	    "contact_email, term_years, algorithm, key_bits, csod FROM certificates WHERE id = ? "
	    "AND is_ca = 0",
	    NULL);
	csod_db_bind_int64(st, 1, atoll(id));
	if (!st || csod_db_step(st) != CSOD_DB_ROW) {
		csod_db_finalize(st);
		return ctl_error("no certificate %s", id);
	}
	char text[6][256];
	for (int i = 0; i < 6; i++)
		snprintf(text[i], sizeof text[i], "%s",
		         csod_db_text(st, i) ? csod_db_text(st, i) : "");
	cert_fields f = {text[0],
	                 text[1],
	                 text[2],
	                 text[3][0] ? text[3] : NULL,
	                 text[4][0] ? text[4] : NULL,
	                 text[5][0] ? text[5] : NULL,
	                 strcmp(csod_db_text(st, 7), "rsa") == 0 ? "rsa" : "ecdsa",
	                 csod_db_column_int(st, 6),
	                 csod_db_column_int(st, 8),
	                 csod_db_column_int(st, 9),
	                 ""};
	csod_db_finalize(st);
	int rc = valid(c, db, &f);
	return rc ? rc : record(c, db, &f, "cert.renew");
}
