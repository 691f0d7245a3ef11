/* The database { } block of csod.conf: the embedded SQLite file (the
 * default, <state_dir>/csod.db) or a PostgreSQL server shared by the nodes
 * of a cluster (docs/DESIGN.md "Cluster"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/fsutil.h"
#include "config.h"
#include "config_read.h"

int cfg_read_database(cfg_reader *r, const config_setting_t *root, csod_config *c)
{
	static const char *const keys[] = {"backend", "path", "conninfo", NULL};
	static const char *const backends[] = {"sqlite", "postgresql", NULL};
	const config_setting_t *g = config_setting_get_member(root, "database");
	if (!g)
		return 0;
	if (!config_setting_is_group(g))
		return cfg_fail(r, g, "database", "expected a group { backend = ...; }");
	if (cfg_only_keys(r, g, "database", keys) < 0 ||
	    cfg_choice(r, g, "database", "backend", backends, &c->database.backend) < 0 ||
	    cfg_string(r, g, "database", "path", &c->database.path) < 0 ||
	    cfg_string(r, g, "database", "conninfo", &c->database.conninfo) < 0)
		return -1;
	int pg = c->database.backend && strcmp(c->database.backend, "postgresql") == 0;
	if (pg && !c->database.conninfo)
		return cfg_fail(r, g, "database.conninfo",
		                "required with backend \"postgresql\" (libpq's connection string, "
		                "e.g. \"host=db.example.com dbname=csod\")");
	if (!pg && c->database.conninfo)
		return cfg_fail(r, config_setting_get_member(g, "conninfo"), "database.conninfo",
		                "only for backend \"postgresql\"");
	if (pg && c->database.path)
		return cfg_fail(r, config_setting_get_member(g, "path"), "database.path",
		                "only for backend \"sqlite\"");
	return 0;
}

void cfg_free_database(csod_config *c)
{
	free(c->database.backend);
	free(c->database.path);
	free(c->database.conninfo);
}

int csod_config_db_location(const csod_config *c, csod_db_location *loc, char *path, size_t len)
{
	memset(loc, 0, sizeof *loc);
	loc->backend = c->database.backend ? c->database.backend : "sqlite";
	loc->conninfo = c->database.conninfo;
	/* Nodes of a cluster on SQLite share one file (on a local disk:
	 * SQLite's locks do not hold on NFS); one node keeps its own. */
	int made = c->database.path ? csod_path(path, len, "%s", c->database.path)
	                            : csod_path(path, len, "%s/csod.db", c->state_dir);
	if (made < 0)
		return -1;
	loc->path = path;
	return 0;
}

const char *csod_config_db_name(const csod_db_location *loc)
{
	return strcmp(loc->backend, "postgresql") == 0 ? "the PostgreSQL database" : loc->path;
}
