/* Group commit of published files (docs/DESIGN.md "Publishing in
 * groups"): the files of many requests are written in tmp/ without an
 * fsync each, made durable in one round, renamed into place, and the
 * renames made durable in one more round. Each file is still complete on
 * disk before its name appears, and nothing is renamed when the round
 * fails. A small group is fsynced file by file and directory by directory
 * (a syncfs would also wait for whatever else the filesystem has dirty);
 * from CSOD_GROUP_SYNCFS files on, one syncfs(2) does each round. */
#ifndef CSOD_GROUP_SYNC_H
#define CSOD_GROUP_SYNC_H

#include "../lib/error.h"

#define CSOD_GROUP_SYNCFS 8

typedef struct csod_group_sync {
	char **files; /* written in tmp/, not yet durable */
	int n_files, cap_files;
	char **dirs; /* renamed into (may repeat) */
	int n_dirs, cap_dirs;
	int whole; /* the rounds are syncfs calls */
} csod_group_sync;

/* Remembers a file written in tmp/ (its path) for the first round. */
int csod_group_sync_file(csod_group_sync *g, const char *path, csod_error *err);
/* Remembers a directory something is renamed into, for the second. */
int csod_group_sync_dir(csod_group_sync *g, const char *dir, csod_error *err);

/* The first round: every remembered file on disk (tmp_dir is on the
 * spool's filesystem), or -1 and none may be renamed. */
int csod_group_sync_files(csod_group_sync *g, const char *tmp_dir, csod_error *err);
/* The second round, after the renames: each directory once. */
void csod_group_sync_dirs(csod_group_sync *g, const char *tmp_dir);

void csod_group_sync_free(csod_group_sync *g);

#endif
