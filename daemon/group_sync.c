#include "group_sync.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/fsutil.h"

static int add(char ***v, int *n, int *cap, const char *s, csod_error *err)
{
	if (*n == *cap) {
		int grown_cap = *cap ? 2 * *cap : 32;
		char **grown = realloc(*v, (size_t)grown_cap * sizeof *grown);
		if (!grown)
			return csod_fail(err, "out of memory");
		*v = grown;
		*cap = grown_cap;
	}
	if (!((*v)[*n] = strdup(s)))
		return csod_fail(err, "out of memory");
	(*n)++;
	return 0;
}

int csod_group_sync_file(csod_group_sync *g, const char *path, csod_error *err)
{
	return add(&g->files, &g->n_files, &g->cap_files, path, err);
}

int csod_group_sync_dir(csod_group_sync *g, const char *dir, csod_error *err)
{
	return add(&g->dirs, &g->n_dirs, &g->cap_dirs, dir, err);
}

int csod_group_sync_files(csod_group_sync *g, const char *tmp_dir, csod_error *err)
{
	g->whole = g->n_files >= CSOD_GROUP_SYNCFS;
	if (g->whole)
		return csod_syncfs(tmp_dir, err);
	for (int i = 0; i < g->n_files; i++) {
		int fd = open(g->files[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		int rc = fd < 0 ? -1 : fsync(fd);
		if (fd >= 0)
			close(fd);
		if (rc < 0)
			return csod_fail_errno(err, "cannot write %s to disk", g->files[i]);
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void csod_group_sync_dirs(csod_group_sync *g, const char *tmp_dir)
{
	if (g->whole) {
		/* A failure here is like a failed directory fsync: the files are
		 * whole, and a crash at worst loses the renames. */
		csod_error ignored;
		csod_syncfs(tmp_dir, &ignored);
		return;
	}
	qsort(g->dirs, (size_t)g->n_dirs, sizeof *g->dirs, by_name);
	for (int i = 0; i < g->n_dirs; i++)
		if (i == 0 || strcmp(g->dirs[i], g->dirs[i - 1]) != 0)
			csod_fsync_dir(g->dirs[i]);
}

void csod_group_sync_free(csod_group_sync *g)
{
	for (int i = 0; i < g->n_files; i++)
		free(g->files[i]);
	for (int i = 0; i < g->n_dirs; i++)
		free(g->dirs[i]);
	free(g->files);
	free(g->dirs);
	memset(g, 0, sizeof *g);
}
