/* Descriptor-relative walks of trees their builders may still change (see
 * fdtree.h for why). Removal is iterative: a folder that is not empty has
 * its own subfolders moved up next to it and its files unlinked, so the
 * tree flattens as it goes. Depth costs passes, never descriptors or path
 * length, which is what a 3,000-level tree made to outlast an nftw() or a
 * PATH_MAX buffer needs. */
#include "fdtree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A writer we could not lock out (the daemon without CAP_CHOWN, a folder
 * it does not own) could refill a tree forever; give up after this many
 * passes over one folder and leave the rest for the next attempt. */
#define MAX_PASSES 100000

int csod_open_dir_at(int dir_fd, const char *name)
{
	return openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int csod_dir_take_over(int dir_fd)
{
	struct stat st;
	if (fstat(dir_fd, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (st.st_uid == uid && st.st_gid == gid && (st.st_mode & 07777) == 0700)
		return 0;
	/* The owner first: once it is ours, nobody else may change the mode. */
	if ((st.st_uid != uid || st.st_gid != gid) && fchown(dir_fd, uid, gid) < 0)
		return -1;
	return fchmod(dir_fd, 0700);
}

static int is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* Removes a non-directory, or an empty directory. 1 when name is a
 * directory that is not empty, 0 when gone, -1 on another error. */
static int remove_simple(int dir_fd, const char *name)
{
	if (unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	if (unlinkat(dir_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;
	return errno == ENOTEMPTY || errno == EEXIST ? 1 : -1;
}

/* Moves sub (a non-empty folder inside child) up into top under a fresh
 * name. It is taken over first: moving a folder rewrites its "..", which
 * needs write permission on it. */
static int move_up(int top, int child, const char *sub, unsigned long *counter)
{
	int fd = csod_open_dir_at(child, sub);
	if (fd >= 0) {
		csod_dir_take_over(fd);
		close(fd);
	}
	char fresh[64];
	for (int tries = 0; tries < 1000; tries++) {
		snprintf(fresh, sizeof fresh, ".csod-rm-%lu", (*counter)++);
		if (renameat2(child, sub, top, fresh, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* name (inside top) is a folder that is not empty: unlink its files, move
 * its folders up into top, then remove it. */
static int flatten(int top, const char *name, unsigned long *counter)
{
	int child = csod_open_dir_at(top, name);
	if (child < 0)
		return -1;
	csod_dir_take_over(child);
	int list_fd = dup(child);
	DIR *dh = list_fd >= 0 ? fdopendir(list_fd) : NULL;
	if (!dh) {
		if (list_fd >= 0)
			close(list_fd);
		close(child);
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(dh))) {
		if (is_dot(e->d_name))
			continue;
		int r = remove_simple(child, e->d_name);
		if (r == 1)
			r = move_up(top, child, e->d_name, counter);
		if (r < 0)
			rc = -1;
	}
	closedir(dh);
	close(child);
	if (rc == 0 && unlinkat(top, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

/* Empties the folder top, pass after pass, until a pass finds nothing. */
static int empty_dir(int top)
{
	unsigned long counter = 0;
	for (int pass = 0; pass < MAX_PASSES; pass++) {
		int list_fd = dup(top);
		DIR *dh = list_fd >= 0 ? fdopendir(list_fd) : NULL;
		if (!dh) {
			if (list_fd >= 0)
				close(list_fd);
			return -1;
		}
		rewinddir(dh);
		int seen = 0, progress = 0, last_errno = 0;
		struct dirent *e;
		while ((e = readdir(dh))) {
			if (is_dot(e->d_name))
				continue;
			seen++;
			int r = remove_simple(top, e->d_name);
			if (r == 1)
				r = flatten(top, e->d_name, &counter);
			if (r == 0)
				progress++;
			else
				last_errno = errno;
		}
		closedir(dh);
		if (!seen)
			return 0;
		if (!progress) {
			errno = last_errno ? last_errno : ENOTEMPTY;
			return -1;
		}
	}
	errno = EAGAIN;
	return -1;
}

int csod_tree_remove_at(int dir_fd, const char *name)
{
	int fd = csod_open_dir_at(dir_fd, name);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno != ENOTDIR && errno != ELOOP)
			return -1;
		/* A file or a link: the link itself goes, never its target. */
		return unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT ? 0 : -1;
	}
	csod_dir_take_over(fd);
	int rc = empty_dir(fd);
	close(fd);
	if (rc == 0 && unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

int csod_tree_remove(const char *path)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	if (!*name || is_dot(name) || strlen(path) >= sizeof parent) {
		errno = EINVAL;
		return -1;
	}
	if (!slash)
		snprintf(parent, sizeof parent, ".");
	else if (slash == path)
		snprintf(parent, sizeof parent, "/");
	else
		snprintf(parent, sizeof parent, "%.*s", (int)(slash - path), path);
	int dir_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return errno == ENOENT ? 0 : -1;
	int rc = csod_tree_remove_at(dir_fd, name);
	int saved = errno;
	close(dir_fd);
	errno = saved;
	return rc;
}
