/* csodctl developer ...: the seed's Developers tab. Developers live in the
 * database; each change makes their folders right and is audited. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/audit.h"
#include "../../daemon/developers.h"
#include "../../daemon/email_address.h"
#include "../../daemon/mail.h"
#include "../../daemon/notify.h"
#include "../../daemon/pki.h"
#include "../../daemon/request_paths.h"
#include "ctl.h"

static int check_email(ctl *c, const char *email, const char *organization);

typedef struct developer_list {
	ctl *c;
	json_t *rows; /* NULL: a table */
} developer_list;

static void print_developer(void *ctx, const csod_dev_record *d)
{
	developer_list *l = ctx;
	/* Seen by the admins of any of their places. */
	int visible = 0;
	for (int i = 0; i < d->n_places; i++)
		visible |=
		    ctl_may_see(l->c, d->user, d->places[i].organization, d->places[i].department);
	if (!visible)
		return;
	const char *f[5] = {d->user, d->email, d->name, d->organization, d->department};
	static const char *const names[5] = {"user", "email", "name", "organization", "department"};
	for (int i = 0; i < 5; i++)
		f[i] = ctl_text(l->c, d->user, names[i], f[i]);
	if (l->rows) {
		json_t *places = json_array();
		for (int i = 0; places && i < d->n_places; i++)
			json_array_append_new(
			    places, json_pack("{s:s, s:o}", "organization",
			                      ctl_text(l->c, d->user, "organization",
			                               d->places[i].organization),
			                      "department",
			                      ctl_json_text(ctl_text(l->c, d->user, "department",
			                                             d->places[i].department))));
		ctl_append(l->c, l->rows,
		           json_pack("{s:s, s:o, s:o, s:s, s:o, s:o*}", "user", f[0], "email",
		                     ctl_json_text(f[1]), "name", ctl_json_text(f[2]),
		                     "organization", f[3], "department", ctl_json_text(f[4]),
		                     "places", places),
		           f[0]);
	} else {
		printf("%-16s %-32s %-24s %-28s %s", f[0], f[1], f[2], f[3], f[4][0] ? f[4] : "-");
		for (int i = 1; i < d->n_places; i++)
			printf("%s%s%s%s", i == 1 ? "  (also " : ", ",
			       ctl_text(l->c, d->user, "organization", d->places[i].organization),
			       d->places[i].department[0] ? "/" : "",
			       ctl_text(l->c, d->user, "department", d->places[i].department));
		printf("%s\n", d->n_places > 1 ? ")" : "");
	}
}

/* The places --organization O [--department D] ... name, in order: each
 * --organization starts one, a --department names its department. 0, or
 * 2 (usage) for a --department before any --organization. */
typedef struct place_args {
	csod_place places[CSOD_MAX_PLACES];
	int n;
	int lone_department; /* a --department with no --organization before it */
	char department[256];
} place_args;

static int place_option(place_args *a, int opt, const char *value)
{
	if (opt == 'o') {
		if (a->n == CSOD_MAX_PLACES)
			return ctl_error("at most %d places", CSOD_MAX_PLACES);
		memset(&a->places[a->n], 0, sizeof a->places[0]);
		snprintf(a->places[a->n].organization, sizeof a->places[0].organization, "%s",
		         value);
		a->n++;
	} else if (a->n > 0) {
		snprintf(a->places[a->n - 1].department, sizeof a->places[0].department, "%s",
		         value);
	} else {
		a->lone_department = 1;
		snprintf(a->department, sizeof a->department, "%s", value);
	}
	return 0;
}

/* Each place is a department of a configured organization (or the
 * organization alone), named once, in the caller's scope, and the email
 * is in a domain of each organization. */
static int check_places(ctl *c, csod_db *db, const char *email, const csod_place *p, int n,
                        const char *action)
{
	for (int i = 0; i < n; i++) {
		const csod_organization *o = csod_config_organization(c->cfg, p[i].organization);
		if (!o)
			return ctl_error("no organization \"%s\" in the configuration",
			                 ctl_text(c, NULL, "organization", p[i].organization));
		int dept_ok = !p[i].department[0];
		for (int k = 0; p[i].department[0] && o->departments && o->departments[k]; k++)
			dept_ok |= strcmp(o->departments[k], p[i].department) == 0;
		if (!dept_ok)
			return ctl_error("\"%s\" is not a department of %s",
			                 ctl_text(c, NULL, "department", p[i].department),
			                 p[i].organization);
		for (int k = 0; k < i; k++)
			if (strcmp(p[k].organization, p[i].organization) == 0 &&
			    strcmp(p[k].department, p[i].department) == 0)
				return ctl_error("%s%s%s is named twice", p[i].organization,
				                 p[i].department[0] ? "/" : "", p[i].department);
		if (check_email(c, email, p[i].organization))
			return 1;
		if (ctl_require_admin(c, db, action, p[i].organization,
		                      p[i].department[0] ? p[i].department : NULL) < 0)
			return 1;
	}
	return 0;
}

/* An address csodctl records: one plain address (it becomes a mail
 * header), in a domain of the organization where it has domains. */
static int check_email(ctl *c, const char *email, const char *organization)
{
	csod_error why;
	if (csod_email_check(email, &why) < 0)
		return ctl_error("%s", why.msg);
	if (!csod_domain_allowed(c->cfg, organization, email))
		return ctl_error("\"%s\" is not in a domain of %s", email, organization);
	return 0;
}

/* The welcome mail (notify.h): how to map the share, the inbox, the
 * outbox and the status page. 0 queued, else 1 after saying why. */
static int welcome(ctl *c, csod_db *db, const char *user)
{
	csod_dev_record d;
	csod_error err;
	if (csod_developer_lookup(db, user, &d) != 0)
		return ctl_error("no developer %s", user);
	if (!d.email[0])
		return ctl_error("developer %s has no email address", user);
	if (csod_welcome_queue(c->cfg, db, &d, &err) < 0)
		return ctl_error("the welcome mail was not queued: %s", err.msg);
	csod_audit(db, c->user, "developer.welcome", user, "%s", d.email);
	printf("welcome mail to %s queued to %s\n", user, ctl_text(c, user, "email", d.email));
	return 0;
}

/* csod.conf wins over the database (a reload re-applies it), so a change
 * csodctl made to a developer defined there would be silently undone:
 * 1 (after saying so) for those. */
static int refuse_if_in_config(ctl *c, const char *user, const char *change)
{
	if (!csod_config_developer(c->cfg, user))
		return 0;
	return ctl_error("%s is defined in %s; %s them there and reload", user, c->cfg->path,
	                 change);
}

static int developer_add(ctl *c, csod_db *db, int argc, char **argv)
{
	static const struct option options[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"user", required_argument, NULL, 'u'},
	    {"organization", required_argument, NULL, 'o'},
	    {"department", required_argument, NULL, 'd'},
	    {"welcome", no_argument, NULL, 'w'},
	    {NULL, 0, NULL, 0},
	};
	const char *name = "", *user = NULL;
	place_args a;
	memset(&a, 0, sizeof a);
	int opt, send_welcome = 0;
	optind = 0; /* 0, not 1: glibc then also resets its internal state */
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == 'n')
			name = optarg;
		else if (opt == 'u')
			user = optarg;
		else if (opt == 'o' || opt == 'd') {
			if (place_option(&a, opt, optarg))
				return 1;
		} else if (opt == 'w')
			send_welcome = 1;
		else
			return ctl_usage_error("developer", "add");
	}
	if (optind != argc - 1 || !user || a.n == 0 || a.lone_department)
		return ctl_usage_error("developer", "add");
	const char *email = argv[optind];
	if (!csod_user_name_ok(user))
		return ctl_error("%s is not a usable user name (letters, digits, . _ -)",
		                 ctl_text(c, NULL, "user", user));
	if (check_places(c, db, email, a.places, a.n, "add developers"))
		return 1;
	/* Adding over an existing developer would move them without the scope
	 * check on where they are now; edit makes that check. */
	csod_dev_record existing;
	if (csod_developer_lookup(db, user, &existing) == 0)
		return ctl_error("developer %s exists (in %s%s%s); use csodctl developer edit",
		                 user, existing.organization, existing.department[0] ? "/" : "",
		                 existing.department);
	char *places = csod_places_to_json(a.places, a.n);
	csod_stmt *st = csod_db_prepare(
	    db,
	    "INSERT INTO developers(\"user\", email, name, organization, department, places, "
	    "created) "
	    "VALUES(?, ?, ?, ?, NULLIF(?, ''), ?, ?) ON CONFLICT(\"user\") DO UPDATE SET email = "
	    "excluded.email, name = excluded.name, organization = excluded.organization, "
	    "department = excluded.department, places = excluded.places, removed = NULL",
	    NULL);
	csod_db_bind_text(st, 1, user);
	csod_db_bind_text(st, 2, email);
	csod_db_bind_text(st, 3, name);
	csod_db_bind_text(st, 4, a.places[0].organization);
	csod_db_bind_text(st, 5, a.places[0].department);
	csod_db_bind_text(st, 6, places);
	csod_db_bind_int64(st, 7, csod_now());
	int ok = st && places && csod_db_step(st) == CSOD_DB_DONE;
	csod_db_finalize(st);
	free(places);
	if (!ok)
		return ctl_error("database: %s", csod_db_errmsg(db));
	csod_error err;
	if (csod_developer_make_dirs(c->spool, user, &err) < 0)
		return ctl_error("%s", err.msg);
	char inbox[PATH_MAX + 80], text[1024];
	snprintf(inbox, sizeof inbox, "%s/inbox/%s", c->spool, user);
	csod_places_text(a.places, a.n, text, sizeof text);
	csod_audit(db, c->user, "developer.add", user, "%s, %s", email, text);
	printf("developer %s added: inbox %s\n", user, inbox);
	return send_welcome ? welcome(c, db, user) : 0;
}

/* developer edit USER [--email E] [--name N] [--organization O [--department D]]...
 * Organizations given replace the developer's places (the first becomes
 * their default); a --department alone changes their first place's. */
static int developer_edit(ctl *c, csod_db *db, int argc, char **argv)
{
	static const struct option options[] = {
	    {"email", required_argument, NULL, 'e'},
	    {"name", required_argument, NULL, 'n'},
	    {"organization", required_argument, NULL, 'o'},
	    {"department", required_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	static csod_dev_record d;
	if (csod_developer_lookup(db, argv[1], &d) != 0)
		return ctl_error("no developer %s", argv[1]);
	if (ctl_require_admin(c, db, "edit developers", d.organization, d.department) < 0)
		return 1;
	if (refuse_if_in_config(c, d.user, "change"))
		return 1;
	place_args a;
	memset(&a, 0, sizeof a);
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
		if (opt == 'e')
			snprintf(d.email, sizeof d.email, "%s", optarg);
		else if (opt == 'n')
			snprintf(d.name, sizeof d.name, "%s", optarg);
		else if (opt == 'o' || opt == 'd') {
			if (place_option(&a, opt, optarg))
				return 1;
		} else
			return ctl_usage_error("developer", "edit");
	}
	if (a.n > 0 && a.lone_department)
		return ctl_usage_error("developer", "edit");
	if (a.n > 0) {
		memcpy(d.places, a.places, sizeof a.places[0] * (size_t)a.n);
		d.n_places = a.n;
	} else if (a.lone_department) {
		snprintf(d.places[0].department, sizeof d.places[0].department, "%s", a.department);
	}
	/* The new places must be in the caller's scope too. */
	if (check_places(c, db, d.email, d.places, d.n_places, "move developers"))
		return 1;
	char *places = csod_places_to_json(d.places, d.n_places);
	csod_stmt *st =
	    csod_db_prepare(db,
	                    "UPDATE developers SET email = ?, name = ?, organization = "
	                    "?, department = NULLIF(?, ''), places = ? WHERE \"user\" = ?",
	                    NULL);
	csod_db_bind_text(st, 1, d.email);
	csod_db_bind_text(st, 2, d.name);
	csod_db_bind_text(st, 3, d.places[0].organization);
	csod_db_bind_text(st, 4, d.places[0].department);
	csod_db_bind_text(st, 5, places);
	csod_db_bind_text(st, 6, d.user);
	int ok = st && places && csod_db_step(st) == CSOD_DB_DONE;
	csod_db_finalize(st);
	free(places);
	if (!ok)
		return ctl_error("database: %s", csod_db_errmsg(db));
	char text[1024];
	csod_places_text(d.places, d.n_places, text, sizeof text);
	csod_audit(db, c->user, "developer.edit", d.user, "%s, %s", d.email, text);
	printf("developer %s updated\n", d.user);
	return 0;
}

/* developer reset USER: the folders again (owner, modes) and the welcome. */
static int developer_reset(ctl *c, csod_db *db, const char *user)
{
	csod_dev_record d;
	if (csod_developer_lookup(db, user, &d) != 0)
		return ctl_error("no developer %s", user);
	if (ctl_require_admin(c, db, "reset developers", d.organization, d.department) < 0)
		return 1;
	csod_error err;
	if (csod_developer_make_dirs(c->spool, user, &err) < 0)
		return ctl_error("%s", err.msg);
	csod_audit(db, c->user, "developer.reset", user, "%s", d.email);
	printf("developer %s reset: folders re-created\n", user);
	return welcome(c, db, user);
}

int cmd_developer(ctl *c, int argc, char **argv)
{
	if (argc < 1)
		return ctl_usage_error("developer", NULL);
	int writing = strcmp(argv[0], "list") != 0;
	if (!writing && !c->is_root && !c->admin)
		return ctl_error("%s is not an administrator", c->user);
	csod_db *db = ctl_open_db(c, writing);
	if (!db)
		return 1;
	int rc = 0;
	if (strcmp(argv[0], "list") == 0) {
		developer_list l = {c, c->json ? json_array() : NULL};
		if (!c->json)
			printf("%-16s %-32s %-24s %-28s %s\n", "USER", "EMAIL", "NAME",
			       "ORGANIZATION", "DEPARTMENT");
		csod_developers_each(db, print_developer, &l);
		if (l.rows)
			ctl_print_json(c, l.rows);
	} else if (strcmp(argv[0], "add") == 0) {
		rc = developer_add(c, db, argc, argv);
	} else if (strcmp(argv[0], "edit") == 0 && argc >= 2) {
		rc = developer_edit(c, db, argc, argv);
	} else if (strcmp(argv[0], "reset") == 0 && argc == 2) {
		rc = developer_reset(c, db, argv[1]);
	} else if (strcmp(argv[0], "welcome") == 0 && argc == 2) {
		csod_dev_record d;
		if (csod_developer_lookup(db, argv[1], &d) != 0)
			rc = ctl_error("no developer %s", argv[1]);
		else if (ctl_require_admin(c, db, "welcome developers", d.organization,
		                           d.department) < 0)
			rc = 1;
		else
			rc = welcome(c, db, argv[1]);
	} else if (strcmp(argv[0], "remove") == 0 && argc == 2) {
		csod_dev_record d;
		if (csod_developer_lookup(db, argv[1], &d) != 0) {
			rc = ctl_error("no developer %s", argv[1]);
		} else if (ctl_require_admin(c, db, "remove developers", d.organization,
		                             d.department) < 0) {
			rc = 1;
		} else if (refuse_if_in_config(c, argv[1], "remove")) {
			rc = 1;
		} else {
			csod_stmt *st = csod_db_prepare(
			    db, "UPDATE developers SET removed = ? WHERE \"user\" = ?", NULL);
			csod_db_bind_int64(st, 1, csod_now());
			csod_db_bind_text(st, 2, argv[1]);
			csod_db_step(st);
			csod_db_finalize(st);
			csod_audit(db, c->user, "developer.remove", argv[1], "%s", d.email);
			printf("developer %s removed\n", argv[1]);
		}
	} else {
		rc = ctl_usage_error("developer", argv[0]);
	}
	csod_db_close(db);
	return rc;
}
