/* Intakes a crash interrupted (intake.c, step 5 not reached): at the start
 * a node finishes its own, store/incoming/<id>.<developer> (one node) or
 * <id>@<node>.<developer> (a node of a cluster); while it runs it takes
 * over those of nodes whose lease ran out (cluster.h), renaming each to
 * its own name first: on the shared filesystem the first rename wins, so
 * exactly one node finishes it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/log.h"
#include "cluster.h"
#include "dispatch.h"
#include "intake.h"
#include "request.h"

/* The parts of an incoming folder's name: <id>[@<node>].<developer>. */
typedef struct incoming_name {
	char id[32], node[CSOD_NODE_MAX + 2], developer[72];
} incoming_name;

static int parse(const char *name, incoming_name *n)
{
	const char *dot = strchr(name, '.');
	if (!dot || strlen(dot + 1) >= sizeof n->developer)
		return -1;
	const char *at = memchr(name, '@', (size_t)(dot - name));
	const char *id_end = at ? at : dot;
	if (id_end - name >= (long)sizeof n->id || (at && dot - at >= (long)sizeof n->node))
		return -1;
	snprintf(n->id, sizeof n->id, "%.*s", (int)(id_end - name), name);
	/* The tag as the daemon writes it: "@<node>", or "" for one node. */
	snprintf(n->node, sizeof n->node, "%.*s", at ? (int)(dot - at) : 0, at ? at : "");
	snprintf(n->developer, sizeof n->developer, "%s", dot + 1);
	return n->id[0] ? 0 : -1;
}

/* What is left in store/incoming/<name> (this node's own name): the
 * drop is the folder's one entry. */
static void recover_one(csod_daemon *d, const incoming_name *n, int inline_run)
{
	char dir[PATH_MAX];
	csod_request existing;
	int have = csod_request_load(d->db, n->id, &existing);
	char entry[256] = "";
	csod_spool_path(d, dir, sizeof dir, "store/incoming/%s%s.%s", n->id, d->node_tag,
	                n->developer);
	DIR *dh = opendir(dir);
	struct dirent *e;
	while (dh && (e = readdir(dh)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			snprintf(entry, sizeof entry, "%s", e->d_name);
	if (dh)
		closedir(dh);
	uid_t owner = csod_inbox_owner(d, n->developer);
	if (have == 0 || !entry[0]) {
		/* Already recorded (an auto-approval with it: intake_record.c), or
		 * the rename never happened. A node that died before claiming an
		 * auto-approved request for signing left it to whoever finishes
		 * its intake; at a restart csod_dispatch_recover has queued it. */
		if (have == 0 && !inline_run && strcmp(existing.state, "approved") == 0)
			csod_dispatch(d, n->id);
		csod_intake_remove_incoming(d, n->id, n->developer, owner);
		csod_request_free(&existing);
		return;
	}
	csod_request_free(&existing);
	csod_log(LOG_NOTICE, n->id, "finishing the intake of %s/%s%s", n->developer, entry,
	         inline_run ? " after a restart" : " that a node whose lease ran out left");
	csod_intake_start(d, n->id, n->developer, entry, owner, inline_run, NULL, 0);
}

/* The names in store/incoming (a snapshot: finishing one changes it). */
static int list_incoming(csod_daemon *d, char (**names)[128])
{
	char dir[PATH_MAX];
	csod_spool_path(d, dir, sizeof dir, "store/incoming");
	DIR *dh = opendir(dir);
	*names = NULL;
	if (!dh)
		return 0;
	struct dirent *e;
	int n = 0;
	while ((e = readdir(dh))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= 128)
			continue;
		char(*grown)[128] = realloc(*names, sizeof **names * (size_t)(n + 1));
		if (!grown)
			break;
		*names = grown;
		snprintf((*names)[n++], 128, "%s", e->d_name);
	}
	closedir(dh);
	return n;
}

void csod_intake_recover(csod_daemon *d)
{
	char(*names)[128];
	int n = list_incoming(d, &names);
	incoming_name in;
	for (int i = 0; i < n; i++)
		if (parse(names[i], &in) == 0 && strcmp(in.node, d->node_tag) == 0)
			recover_one(d, &in, 1);
	free(names);
}

void csod_intake_take_over(csod_daemon *d)
{
	char(*names)[128];
	int n = list_incoming(d, &names);
	incoming_name in;
	for (int i = 0; i < n; i++) {
		if (parse(names[i], &in) < 0 || strcmp(in.node, d->node_tag) == 0)
			continue;
		/* Without a node's name: left by one csodd before the cluster, whose
		 * only heir is whoever comes first. */
		if (in.node[0] && !csod_cluster_node_gone(d, in.node + 1))
			continue;
		char from[PATH_MAX], to[PATH_MAX];
		if (csod_spool_path(d, from, sizeof from, "store/incoming/%s", names[i]) < 0 ||
		    csod_spool_path(d, to, sizeof to, "store/incoming/%s%s.%s", in.id, d->node_tag,
		                    in.developer) < 0)
			continue;
		/* The first rename wins; the others find it gone. Over NFS a
		 * retransmitted RENAME may say ENOENT to the winner as well: the
		 * folder under this node's name says who won. */
		struct stat st;
		if (rename(from, to) < 0 && (errno != ENOENT || lstat(to, &st) < 0)) {
			if (errno != ENOENT)
				csod_log(LOG_ERR, in.id, "cannot take over %s: %s", from,
				         strerror(errno));
			continue;
		}
		recover_one(d, &in, 0);
	}
	free(names);
}
