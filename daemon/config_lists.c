/* organizations, developers and admins: each entry read and checked against
 * the others, so that a typo in an organization name is caught at load
 * time, not when the first request fails. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../signers/signer.h"
#include "config.h"
#include "config_read.h"
#include "developers.h"
#include "email_address.h"
#include "pki.h"
#include "places.h"

static int in_list(char **list, const char *value)
{
	for (int i = 0; list && list[i]; i++)
		if (strcmp(list[i], value) == 0)
			return 1;
	return 0;
}

/* The list setting `name` of root, as a list of groups; NULL when absent. */
static const config_setting_t *group_list(cfg_reader *r, const config_setting_t *root,
                                          const char *name, int *n, int *rc)
{
	const config_setting_t *s = config_setting_get_member(root, name);
	*n = 0;
	*rc = 0;
	if (!s)
		return NULL;
	if (!config_setting_is_list(s)) {
		*rc = cfg_fail(r, s, name, "expected a list ( { ... }, { ... } )");
		return NULL;
	}
	*n = config_setting_length(s);
	for (int i = 0; i < *n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (!config_setting_is_group(e)) {
			*rc = cfg_fail(r, e, name, "entry %d: expected a group { ... }", i + 1);
			return NULL;
		}
	}
	return s;
}

int cfg_read_organizations(cfg_reader *r, const config_setting_t *root, csod_config *c)
{
	static const char *const keys[] = {"name", "domains", "departments", "auto_approve", NULL};
	int n, rc;
	const config_setting_t *list = group_list(r, root, "organizations", &n, &rc);
	if (rc < 0 || !list)
		return rc;
	c->organizations = calloc((size_t)n, sizeof *c->organizations);
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		csod_organization *o = &c->organizations[c->n_organizations++];
		o->auto_approve = -1;
		char prefix[64];
		snprintf(prefix, sizeof prefix, "organizations[%d]", i);
		if (cfg_only_keys(r, g, prefix, keys) < 0 ||
		    cfg_string(r, g, prefix, "name", &o->name) < 0 ||
		    cfg_strings(r, g, prefix, "domains", &o->domains) < 0 ||
		    cfg_strings(r, g, prefix, "departments", &o->departments) < 0 ||
		    cfg_bool(r, g, prefix, "auto_approve", &o->auto_approve) < 0)
			return -1;
		if (!o->name || !*o->name)
			return cfg_fail(r, g, prefix, "name is required");
		for (int k = 0; k < i; k++)
			if (strcmp(c->organizations[k].name, o->name) == 0)
				return cfg_fail(r, g, prefix, "organization \"%s\" appears twice",
				                o->name);
	}
	return 0;
}

/* Each further place is "Organization/Department" of a department in
 * organizations or "Organization" alone, named once, and the developer's
 * email is in a domain of its organization (their certificate there
 * carries it). */
static int check_places(cfg_reader *r, const config_setting_t *g, const char *prefix,
                        const csod_config *c, const csod_developer *d)
{
	const config_setting_t *s = config_setting_get_member(g, "places");
	int n = 0;
	for (int k = 0; d->places && d->places[k]; k++, n++) {
		csod_place p;
		int named = csod_place_resolve(c, d->places[k], &p);
		if (named != 1)
			return cfg_fail(r, s, prefix,
			                named ? "places: \"%s\" names %d places (a '/' in a name "
			                        "makes it ambiguous); rename one"
			                      : "places: \"%s\" is not \"Organization/Department\" "
			                        "or \"Organization\" of organizations",
			                d->places[k], named);
		if (!csod_domain_allowed(c, p.organization, d->email))
			return cfg_fail(r, s, prefix, "places: \"%s\" is not in a domain of \"%s\"",
			                d->email, p.organization);
	}
	if (n + 1 > CSOD_MAX_PLACES)
		return cfg_fail(r, s, prefix, "places: at most %d places in all", CSOD_MAX_PLACES);
	return 0;
}

static int check_developer(cfg_reader *r, const config_setting_t *g, const char *prefix,
                           csod_config *c, const csod_developer *d)
{
	if (!d->user)
		return cfg_fail(r, g, prefix, "user is required");
	if (!csod_user_name_ok(d->user))
		return cfg_fail(r, config_setting_get_member(g, "user"), prefix,
		                "user \"%s\" is not a usable folder name (letters, digits, . _ -; "
		                "not starting with . or -; at most 64)",
		                d->user);
	if (!d->email)
		return cfg_fail(r, g, prefix, "email is required (an address)");
	csod_error why;
	if (csod_email_check(d->email, &why) < 0)
		return cfg_fail(r, config_setting_get_member(g, "email"), prefix, "%s", why.msg);
	if (!d->organization)
		return cfg_fail(r, g, prefix, "organization is required");
	const csod_organization *org = csod_config_organization(c, d->organization);
	if (!org)
		return cfg_fail(r, config_setting_get_member(g, "organization"), prefix,
		                "organization \"%s\" is not in organizations", d->organization);
	if (!csod_domain_allowed(c, d->organization, d->email))
		return cfg_fail(r, config_setting_get_member(g, "email"), prefix,
		                "\"%s\" is not in a domain of \"%s\"", d->email, d->organization);
	if (d->department && !in_list(org->departments, d->department))
		return cfg_fail(r, config_setting_get_member(g, "department"), prefix,
		                "department \"%s\" is not a department of \"%s\"", d->department,
		                d->organization);
	if (check_places(r, g, prefix, c, d) < 0)
		return -1;
	for (int k = 0; d->digests && d->digests[k]; k++)
		if (!csod_digest_by_name(d->digests[k]))
			return cfg_fail(r, config_setting_get_member(g, "digests"), prefix,
			                "unknown digest \"%s\" (expected md5 sha1 sha256 sha384 "
			                "sha512)",
			                d->digests[k]);
	if (d->service && strcmp(d->service, "authenticode") != 0 &&
	    strcmp(d->service, "java") != 0 && strcmp(d->service, "android") != 0 &&
	    strcmp(d->service, "hash") != 0 && strcmp(d->service, "auto") != 0)
		return cfg_fail(r, config_setting_get_member(g, "service"), prefix,
		                "expected authenticode, java, android, hash or auto, got \"%s\"",
		                d->service);
	return 0;
}

int cfg_read_developers(cfg_reader *r, const config_setting_t *root, csod_config *c)
{
	static const char *const keys[] = {"user",         "email",      "name",
	                                   "organization", "department", "places",
	                                   "digests",      "service",    NULL};
	int n, rc;
	const config_setting_t *list = group_list(r, root, "developers", &n, &rc);
	if (rc < 0 || !list)
		return rc;
	c->developers = calloc((size_t)n, sizeof *c->developers);
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		csod_developer *d = &c->developers[c->n_developers++];
		char prefix[64];
		snprintf(prefix, sizeof prefix, "developers[%d]", i);
		if (cfg_only_keys(r, g, prefix, keys) < 0 ||
		    cfg_string(r, g, prefix, "user", &d->user) < 0 ||
		    cfg_string(r, g, prefix, "email", &d->email) < 0 ||
		    cfg_string(r, g, prefix, "name", &d->name) < 0 ||
		    cfg_string(r, g, prefix, "organization", &d->organization) < 0 ||
		    cfg_string(r, g, prefix, "department", &d->department) < 0 ||
		    cfg_strings(r, g, prefix, "places", &d->places) < 0 ||
		    cfg_strings(r, g, prefix, "digests", &d->digests) < 0 ||
		    cfg_string(r, g, prefix, "service", &d->service) < 0 ||
		    check_developer(r, g, prefix, c, d) < 0)
			return -1;
		for (int k = 0; k < i; k++)
			if (strcmp(c->developers[k].user, d->user) == 0)
				return cfg_fail(r, g, prefix, "user \"%s\" appears twice", d->user);
	}
	return 0;
}

/* A DRAO's scope is "Organization/Department" naming a department of the
 * organizations list. A bare department name is refused: it would read as
 * that department in every organization. So is a scope that names two
 * (organization "A" with department "B/C", and "A/B" with "C"): it would
 * cover both. */
static int check_scope(cfg_reader *r, const config_setting_t *g, const char *prefix,
                       const csod_config *c, const char *scope)
{
	int named = 0;
	for (int i = 0; i < c->n_organizations; i++) {
		const csod_organization *o = &c->organizations[i];
		size_t n = strlen(o->name);
		if (strncmp(scope, o->name, n) == 0 && scope[n] == '/' &&
		    in_list(o->departments, scope + n + 1))
			named++;
	}
	char key[80];
	snprintf(key, sizeof key, "%s.departments", prefix);
	const config_setting_t *s = config_setting_get_member(g, "departments");
	if (named == 1)
		return 0;
	if (named > 1)
		return cfg_fail(r, s, key,
		                "\"%s\" names a department of %d organizations (a '/' in a name "
		                "makes it ambiguous); rename one",
		                scope, named);
	if (!strchr(scope, '/'))
		return cfg_fail(r, s, key,
		                "\"%s\" is a bare department name; a scope is "
		                "\"Organization/Department\" (the same department name may "
		                "exist in several organizations)",
		                scope);
	return cfg_fail(r, s, key,
	                "\"%s\" is not \"Organization/Department\" of a department in "
	                "organizations",
	                scope);
}

/* The organization a DRAO scope entry ("Org/Dept") names, in out; "" for
 * a bare department. */
static void scope_organization(const char *entry, char *out, size_t len)
{
	const char *slash = strchr(entry, '/');
	snprintf(out, len, "%.*s", slash ? (int)(slash - entry) : 0, entry);
}

/* An admin's address is one plain address; an RAO's or a DRAO's is in a
 * domain of an organization they serve (where those have domains). */
static int check_admin_email(cfg_reader *r, const config_setting_t *g, const char *prefix,
                             const csod_config *c, const csod_admin *a)
{
	const config_setting_t *at = config_setting_get_member(g, "email");
	csod_error why;
	if (!a->email)
		return 0;
	if (csod_email_check(a->email, &why) < 0)
		return cfg_fail(r, at, prefix, "%s", why.msg);
	int scoped = 0, allowed = 0;
	char org[256];
	for (int k = 0; a->role == CSOD_ROLE_RAO && a->organizations && a->organizations[k]; k++) {
		scoped = 1;
		allowed |= csod_domain_allowed(c, a->organizations[k], a->email);
	}
	for (int k = 0; a->role == CSOD_ROLE_DRAO && a->departments && a->departments[k]; k++) {
		scope_organization(a->departments[k], org, sizeof org);
		if (org[0] && csod_config_organization(c, org)) {
			scoped = 1;
			allowed |= csod_domain_allowed(c, org, a->email);
		}
	}
	if (scoped && !allowed)
		return cfg_fail(r, at, prefix,
		                "\"%s\" is not in a domain of the organizations this admin serves",
		                a->email);
	return 0;
}

static int check_admin(cfg_reader *r, const config_setting_t *g, const char *prefix, csod_config *c,
                       csod_admin *a, char *role)
{
	if (!role || strcmp(role, "MRAO") == 0)
		a->role = CSOD_ROLE_MRAO;
	else if (strcmp(role, "RAO") == 0)
		a->role = CSOD_ROLE_RAO;
	else if (strcmp(role, "DRAO") == 0)
		a->role = CSOD_ROLE_DRAO;
	else
		return cfg_fail(r, config_setting_get_member(g, "role"), prefix,
		                "role: expected MRAO, RAO or DRAO, got \"%s\"", role);
	if (!role)
		return cfg_fail(r, g, prefix, "role is required (MRAO, RAO or DRAO)");
	if (a->role == CSOD_ROLE_RAO && !(a->organizations && a->organizations[0]))
		return cfg_fail(r, g, prefix, "an RAO needs organizations = [ ... ]");
	if (a->role == CSOD_ROLE_DRAO && !(a->departments && a->departments[0]))
		return cfg_fail(r, g, prefix, "a DRAO needs departments = [ \"Org/Dept\", ... ]");
	for (int k = 0; a->organizations && a->organizations[k]; k++)
		if (!csod_config_organization(c, a->organizations[k]))
			return cfg_fail(r, config_setting_get_member(g, "organizations"), prefix,
			                "organization \"%s\" is not in organizations",
			                a->organizations[k]);
	for (int k = 0; a->departments && a->departments[k]; k++)
		if (check_scope(r, g, prefix, c, a->departments[k]) < 0)
			return -1;
	return check_admin_email(r, g, prefix, c, a);
}

int cfg_read_admins(cfg_reader *r, const config_setting_t *root, csod_config *c)
{
	static const char *const keys[] = {"user",          "uid",         "email", "role",
	                                   "organizations", "departments", NULL};
	int n, rc;
	const config_setting_t *list = group_list(r, root, "admins", &n, &rc);
	if (rc < 0 || !list)
		return rc;
	c->admins = calloc((size_t)n, sizeof *c->admins);
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		csod_admin *a = &c->admins[c->n_admins++];
		char prefix[64], *role = NULL;
		int64_t uid = -1;
		snprintf(prefix, sizeof prefix, "admins[%d]", i);
		if (cfg_only_keys(r, g, prefix, keys) < 0 ||
		    cfg_string(r, g, prefix, "user", &a->user) < 0 ||
		    cfg_int(r, g, prefix, "uid", 0, 4294967294LL, &uid) < 0 ||
		    cfg_string(r, g, prefix, "email", &a->email) < 0 ||
		    cfg_string(r, g, prefix, "role", &role) < 0 ||
		    cfg_strings(r, g, prefix, "organizations", &a->organizations) < 0 ||
		    cfg_strings(r, g, prefix, "departments", &a->departments) < 0) {
			free(role);
			return -1;
		}
		rc = check_admin(r, g, prefix, c, a, role);
		free(role);
		if (rc < 0)
			return -1;
		/* Markers are authenticated by uid: resolve the user now, so a
		 * user that does not exist is a config error, not a silent no. */
		if (a->user) {
			struct passwd *pw = getpwnam(a->user);
			if (!pw)
				return cfg_fail(r, config_setting_get_member(g, "user"), prefix,
				                "no Unix user \"%s\" on this system", a->user);
			a->uid = pw->pw_uid;
		} else if (uid >= 0) {
			a->uid = (uid_t)uid;
			struct passwd *pw = getpwuid(a->uid);
			a->user = strdup(pw ? pw->pw_name : "");
		} else {
			return cfg_fail(r, g, prefix, "user (or uid) is required");
		}
	}
	return 0;
}

void cfg_free_lists(csod_config *c)
{
	for (int i = 0; i < c->n_organizations; i++) {
		free(c->organizations[i].name);
		cfg_free_strings(c->organizations[i].domains);
		cfg_free_strings(c->organizations[i].departments);
	}
	free(c->organizations);
	for (int i = 0; i < c->n_developers; i++) {
		csod_developer *d = &c->developers[i];
		free(d->user);
		free(d->email);
		free(d->name);
		free(d->organization);
		free(d->department);
		cfg_free_strings(d->places);
		cfg_free_strings(d->digests);
		free(d->service);
	}
	free(c->developers);
	for (int i = 0; i < c->n_admins; i++) {
		free(c->admins[i].user);
		free(c->admins[i].email);
		cfg_free_strings(c->admins[i].organizations);
		cfg_free_strings(c->admins[i].departments);
	}
	free(c->admins);
}
