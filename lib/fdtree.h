/* Walking and removing trees that someone else may still be changing.
 *
 * A drop taken out of an inbox is a tree its developer built and may still
 * hold directory descriptors into: whatever they can reach they can rename,
 * replace with a symbolic link, or refill while the daemon works on it. So
 * nothing here resolves a path inside such a tree: every step is relative
 * to a descriptor the daemon opened itself, with O_NOFOLLOW|O_DIRECTORY,
 * and a directory is taken over (made the daemon's, mode 0700) before it is
 * read or emptied, which ends every write its old owner could still make. */
#ifndef CSOD_FDTREE_H
#define CSOD_FDTREE_H

#include <sys/stat.h>

/* Opens name inside dir_fd as a directory without following a link. */
int csod_open_dir_at(int dir_fd, const char *name);

/* Makes the directory dir_fd the daemon's (effective uid and gid) with mode
 * 0700, so that its previous owner can no longer add, remove or rename
 * anything in it, even through a descriptor kept from before. Returns 0,
 * or -1 with errno when the daemon may not (neither owner nor CAP_CHOWN and
 * CAP_FOWNER). Succeeds without changes when the directory is already the
 * daemon's and closed to others. */
int csod_dir_take_over(int dir_fd);

/* Removes name inside dir_fd and everything below it, never following a
 * link and never opening more than three directories at a time however
 * deep the tree is (subfolders are moved up, then emptied), taking every
 * directory over before emptying it. A missing name is not an error.
 * Returns 0, or -1 with errno (what could be removed is gone). */
int csod_tree_remove_at(int dir_fd, const char *name);

/* The same for a path whose parent directories are the daemon's own (the
 * spool's store/, tmp/, ...): only the last component may be hostile. */
int csod_tree_remove(const char *path);

/* The same for a tree a developer built (owner: their uid), which may hold
 * folders of other users that the developer moved in without being able
 * to empty them: only directories of owner or of the daemon are taken over
 * and emptied; any other directory is left whole, with its parents, and
 * the call fails with EPERM. The developer can make the daemon remove
 * nothing they could not have removed themselves. */
int csod_tree_remove_owned(const char *path, uid_t owner);

#endif
