/* Filesystem helpers for the one rule that matters most: nothing partially
 * written is ever visible. Everything published is written in a scratch
 * directory on the same filesystem, fsynced, then renamed into place. */
#ifndef CSOD_FSUTIL_H
#define CSOD_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Creates a unique empty file in dir; path receives its name. Returns an fd
 * opened O_RDWR|O_CLOEXEC, or -1. */
int csod_tmpfile(const char *dir, const char *hint, char *path, size_t pathlen, csod_error *err);

/* fsyncs the file at tmp_path, renames it to dest and fsyncs dest's directory. */
int csod_publish(const char *tmp_path, const char *dest, csod_error *err);

/* Writes data to a temporary file in tmpdir, sets mode, fsyncs, renames to
 * dest. */
int csod_write_file_atomic(const char *tmpdir, const char *dest, const void *data, size_t len,
                           mode_t mode, csod_error *err);

/* The same without the directory fsync, for a caller that puts several
 * files into one directory and then syncs it once (csod_fsync_dir). */
int csod_write_file_staged(const char *tmpdir, const char *dest, const void *data, size_t len,
                           mode_t mode, csod_error *err);

/* Writes data to a new temporary file in tmpdir (its name into tmp), sets
 * mode and fsyncs it, for a caller that renames it into place later. */
int csod_write_tmpfile(const char *tmpdir, const void *data, size_t len, mode_t mode, char *tmp,
                       size_t tmplen, csod_error *err);

/* The same without the fsync, for a caller that makes many files durable
 * at once (csod_syncfs) before renaming them into place. */
int csod_write_tmpfile_unsynced(const char *tmpdir, const void *data, size_t len, mode_t mode,
                                char *tmp, size_t tmplen, csod_error *err);

/* syncfs(2) on the filesystem that holds dir: every file written there so
 * far, data and metadata (renames included), is on disk when it returns 0;
 * one round for a group of files instead of an fsync each. It also waits
 * for whatever else is dirty on that filesystem. */
int csod_syncfs(const char *dir, csod_error *err);

/* Reads a whole small file (at most max bytes) into a NUL-terminated buffer. */
int csod_read_file(const char *path, size_t max, char **data, size_t *len, csod_error *err);

int csod_fsync_dir(const char *dir);

/* fsyncs the directory that holds path: makes a rename into it, or the
 * making of path itself, durable. */
void csod_fsync_parent(const char *path);

/* Opens a secret (a key or PIN file, described by what) for reading: it
 * must be a regular file that group and others cannot access. Returns the
 * fd and its size in *size, or -1 with the reason. */
int csod_open_secret(const char *path, const char *what, off_t *size, csod_error *err);

/* mkdir -p; existing directories are fine. */
int csod_mkdir_p(const char *path, mode_t mode, csod_error *err);

/* rm -rf that never follows symlinks, at any depth: csod_tree_remove
 * (fdtree.h). Missing path is not an error. */
int csod_rm_rf(const char *path);

/* Copies from in_fd to out_fd (both at their current offsets) until EOF,
 * using copy_file_range where the kernel can, read/write otherwise. */
int csod_copy_fd(int in_fd, int out_fd, csod_error *err);

/* snprintf into a PATH_MAX buffer that fails (returns -1) on truncation. */
int csod_path(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
