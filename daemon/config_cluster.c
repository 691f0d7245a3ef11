/* The keys of csod.conf that make a node of a cluster (docs/DESIGN.md
 * "Cluster"): the node's name and its lease (the shared database is
 * config_database.c's). Internal to the config loader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "config.h"
#include "config_read.h"

/* A node's name goes into file names (store/incoming/<id>@<node>.<dev>,
 * tmp/<node>/): letters, digits, '-' and '_', no dot. */
int csod_node_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > CSOD_NODE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

int cfg_read_cluster(cfg_reader *r, const config_setting_t *root, csod_config *c)
{
	TRY(cfg_string(r, root, "", "node", &c->node));
	if (c->node && !csod_node_name_ok(c->node))
		return cfg_fail(r, config_setting_get_member(root, "node"), "node",
		                "expected at most %d letters, digits, '-' or '_', got \"%s\"",
		                CSOD_NODE_MAX, c->node);
	TRY(cfg_duration(r, root, "", "node_lease", &c->node_lease_s));
	if (c->node_lease_s < 3 || c->node_lease_s > 3600)
		return cfg_fail(r, config_setting_get_member(root, "node_lease"), "node_lease",
		                "expected 3 s to 1 h, got %lld s", (long long)c->node_lease_s);
	return 0;
}

void cfg_free_cluster(csod_config *c)
{
	free(c->node);
}

void csod_config_node_name(const csod_config *c, char *out, size_t len)
{
	char host[256] = "";
	if (c->node) {
		snprintf(out, len, "%s", c->node);
		return;
	}
	/* The host's own name up to its first dot, cut to what a name may hold. */
	gethostname(host, sizeof host - 1);
	size_t n = strcspn(host, ".");
	host[n < CSOD_NODE_MAX ? n : CSOD_NODE_MAX] = '\0';
	for (char *p = host; *p; p++)
		if (!csod_node_name_ok((char[]){*p, 0}))
			*p = '-';
	snprintf(out, len, "%s", host[0] ? host : "localhost");
}
