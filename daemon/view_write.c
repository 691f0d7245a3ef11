/* Writing the outbox views of many requests as one group (group_sync.h):
 * each view's files are written in tmp/ (a full disk fails that view
 * there and leaves its old files whole), then one durability round for the
 * whole group, then each view's renames (STATUS last: a script that waits
 * for it finds request.json current), then one round for the renames. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "group_sync.h"
#include "request.h"
#include "request_files.h"
#include "spool_access.h"

enum { F_REQUEST, F_ERROR, F_STATUS, F_DETAILS, N_FILES };

static const char *const file_names[N_FILES] = {"request.json", "ERROR", "STATUS", "details.json"};

typedef struct staged_view {
	char tmp[N_FILES][PATH_MAX]; /* "" when not written */
} staged_view;

static void unstage(staged_view *s)
{
	for (int f = 0; f < N_FILES; f++)
		if (s->tmp[f][0]) {
			unlink(s->tmp[f]);
			s->tmp[f][0] = '\0';
		}
}

/* Writes v's files in tmp/ and remembers them in g. */
static int stage(const csod_view *v, staged_view *s, csod_group_sync *g, csod_error *err)
{
	if (csod_outbox_mkdir(v->outbox_dir, err) < 0 ||
	    csod_mkdir_p(v->details_dir, 0755, err) < 0)
		return -1;
	char *with_inner = NULL;
	if (v->inner.n_names &&
	    !(with_inner = csod_details_add_inner(v->details_json, &v->inner, v->tmp_dir, err)))
		return -1;
	const char *texts[N_FILES] = {v->request_json, v->error, v->state,
	                              with_inner ? with_inner : v->details_json};
	int rc = 0;
	for (int f = 0; f < N_FILES && rc == 0; f++)
		if (texts[f])
			rc = csod_write_tmpfile_unsynced(v->tmp_dir, texts[f], strlen(texts[f]),
			                                 0644, s->tmp[f], sizeof s->tmp[f],
			                                 err) < 0 ||
			             csod_group_sync_file(g, s->tmp[f], err) < 0
			         ? -1
			         : 0;
	free(with_inner);
	if (rc < 0)
		unstage(s);
	return rc;
}

static int parent_dir(const char *dir, char *out, size_t len)
{
	if (csod_path(out, len, "%s", dir) < 0)
		return -1;
	char *slash = strrchr(out, '/');
	if (slash)
		*slash = '\0';
	return 0;
}

/* Renames v's files into place, in order, and remembers the folders
 * (and their parents: a folder may be new) for the second round. */
static int place(const csod_view *v, staged_view *s, csod_group_sync *g, csod_error *err)
{
	char path[PATH_MAX], up[PATH_MAX];
	int rc = 0;
	for (int f = 0; f < N_FILES && rc == 0; f++) {
		if (!s->tmp[f][0])
			continue;
		const char *dir = f == F_DETAILS ? v->details_dir : v->outbox_dir;
		if (csod_path(path, sizeof path, "%s/%s", dir, file_names[f]) < 0)
			rc = csod_fail(err, "%s/%s: path too long", dir, file_names[f]);
		else if (rename(s->tmp[f], path) < 0)
			rc = csod_fail_errno(err, "cannot rename into %s", path);
		else
			s->tmp[f][0] = '\0';
	}
	const char *dirs[2] = {v->outbox_dir, v->details_dir};
	for (int i = 0; i < 2; i++)
		if (csod_group_sync_dir(g, dirs[i], err) < 0 ||
		    parent_dir(dirs[i], up, sizeof up) < 0 || csod_group_sync_dir(g, up, err) < 0)
			rc = -1;
	unstage(s);
	return rc;
}

void csod_views_write_group(const csod_view *v, int n, int *rc, csod_error *err)
{
	csod_group_sync g = {0};
	staged_view *s = calloc((size_t)n, sizeof *s);
	int staged = 0;
	for (int i = 0; i < n; i++) {
		rc[i] = s ? stage(&v[i], &s[i], &g, &err[i]) : csod_fail(&err[i], "out of memory");
		staged += rc[i] == 0;
	}
	csod_error why;
	if (staged && csod_group_sync_files(&g, v[0].tmp_dir, &why) < 0)
		for (int i = 0; i < n; i++)
			if (rc[i] == 0) {
				unstage(&s[i]);
				err[i] = why;
				rc[i] = -1;
			}
	for (int i = 0; i < n; i++)
		if (rc[i] == 0)
			rc[i] = place(&v[i], &s[i], &g, &err[i]);
	if (staged)
		csod_group_sync_dirs(&g, v[0].tmp_dir);
	/* The approvers' copy of the files: made while the store copy is
	 * there, gone once the request is finished. */
	for (int i = 0; i < n; i++)
		if (rc[i] == 0)
			rc[i] = csod_request_files_write(&v[i].files, v[i].details_dir, &err[i]);
	csod_group_sync_free(&g);
	free(s);
}
