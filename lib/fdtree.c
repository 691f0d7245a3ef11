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

/* Whose directories a removal may take over: anyone's (a tree of the
 * daemon's own), or only the daemon's and one user's (a tree a developer
 * built, which may hold folders of other users that the developer moved in
 * and could not have emptied themselves). */
typedef struct walk {
	unsigned long counter; /* fresh names for moved-up folders */
	int restricted;
	uid_t owner;
} walk;

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

/* May this walk take the directory dir_fd over? A directory of another
 * user is left whole: errno EPERM. */
static int may_take(const walk *w, int dir_fd)
{
	struct stat st;
	if (!w->restricted)
		return 1;
	if (fstat(dir_fd, &st) < 0)
		return 0;
	if (st.st_uid == w->owner || st.st_uid == geteuid())
		return 1;
	errno = EPERM;
	return 0;
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
static int move_up(walk *w, int top, int child, const char *sub)
{
	int fd = csod_open_dir_at(child, sub);
	if (fd >= 0) {
		int mine = may_take(w, fd);
		if (mine)
			csod_dir_take_over(fd);
		close(fd);
		if (!mine)
			return -1;
	}
	char fresh[64];
	for (int tries = 0; tries < 1000; tries++) {
		snprintf(fresh, sizeof fresh, ".csod-rm-%lu", w->counter++);
		if (renameat2(child, sub, top, fresh, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* name (inside top) is a folder that is not empty: unlink its files, move
 * its folders up into top, then remove it. */
static int flatten(walk *w, int top, const char *name)
{
	int child = csod_open_dir_at(top, name);
	if (child < 0)
		return -1;
	if (!may_take(w, child)) {
		close(child);
		return -1;
	}
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
			r = move_up(w, top, child, e->d_name);
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
static int empty_dir(walk *w, int top)
{
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
				r = flatten(w, top, e->d_name);
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

static int remove_at(walk *w, int dir_fd, const char *name)
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
	if (!may_take(w, fd)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	csod_dir_take_over(fd);
	int rc = empty_dir(w, fd);
	int saved = errno;
	close(fd);
	errno = saved;
	if (rc == 0 && unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

int csod_tree_remove_at(int dir_fd, const char *name)
{
	walk w = {.restricted = 0};
	return remove_at(&w, dir_fd, name);
}

/* The folder holding path's last component, opened; -1 with errno. */
static int open_parent(const char *path, const char **name_out)
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
	*name_out = name;
	return open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int remove_path(walk *w, const char *path)
{
	const char *name = NULL;
	int dir_fd = open_parent(path, &name);
	if (dir_fd < 0)
		return errno == ENOENT ? 0 : -1;
	int rc = remove_at(w, dir_fd, name);
	int saved = errno;
	close(dir_fd);
	errno = saved;
	return rc;
}

int csod_tree_remove(const char *path)
{
	walk w = {.restricted = 0};
	return remove_path(&w, path);
}

int csod_tree_remove_owned(const char *path, uid_t owner)
{
	walk w = {.restricted = 1, .owner = owner};
	return remove_path(&w, path);
}
