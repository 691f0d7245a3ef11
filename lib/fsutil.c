#include "fsutil.h"

#include "fdtree.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int csod_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int csod_tmpfile(const char *dir, const char *hint, char *path, size_t pathlen, csod_error *err)
{
	if (csod_path(path, pathlen, "%s/.%s.XXXXXX", dir, hint ? hint : "tmp") < 0)
		return csod_fail(err, "temporary path in %s is too long", dir);
	int fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return csod_fail_errno(err, "cannot create a temporary file in %s", dir);
	return fd;
}

int csod_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static void parent_of(const char *path, char *out, size_t len)
{
	snprintf(out, len, "%s", path);
	char *slash = strrchr(out, '/');
	if (!slash)
		snprintf(out, len, ".");
	else if (slash == out)
		out[1] = '\0';
	else
		*slash = '\0';
}

void csod_fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	parent_of(path, dir, sizeof dir);
	csod_fsync_dir(dir);
}

int csod_publish(const char *tmp_path, const char *dest, csod_error *err)
{
	int fd = open(tmp_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return csod_fail_errno(err, "cannot open %s", tmp_path);
	if (fsync(fd) < 0) {
		close(fd);
		return csod_fail_errno(err, "cannot fsync %s", tmp_path);
	}
	close(fd);
	if (rename(tmp_path, dest) < 0)
		return csod_fail_errno(err, "cannot rename %s to %s", tmp_path, dest);
	csod_fsync_parent(dest);
	return 0;
}

int csod_write_file_atomic(const char *tmpdir, const char *dest, const void *data, size_t len,
                           mode_t mode, csod_error *err)
{
	if (csod_write_file_staged(tmpdir, dest, data, len, mode, err) < 0)
		return -1;
	csod_fsync_parent(dest);
	return 0;
}

int csod_write_file_staged(const char *tmpdir, const char *dest, const void *data, size_t len,
                           mode_t mode, csod_error *err)
{
	char tmp[PATH_MAX];
	if (csod_write_tmpfile(tmpdir, data, len, mode, tmp, sizeof tmp, err) < 0)
		return -1;
	if (rename(tmp, dest) < 0) {
		csod_fail_errno(err, "cannot rename into %s", dest);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Writes data to a new file in tmpdir; fsyncs it when sync is set. */
static int write_tmp(const char *tmpdir, const void *data, size_t len, mode_t mode, char *tmp,
                     size_t tmplen, int sync, csod_error *err)
{
	int fd = csod_tmpfile(tmpdir, "w", tmp, tmplen, err);
	if (fd < 0)
		return -1;
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			csod_fail_errno(err, "cannot write %s", tmp);
			goto fail;
		}
		p += n;
		left -= (size_t)n;
	}
	if (fchmod(fd, mode) < 0 || (sync && fsync(fd) < 0)) {
		csod_fail_errno(err, "cannot finish %s", tmp);
		goto fail;
	}
	close(fd);
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return -1;
}

int csod_write_tmpfile(const char *tmpdir, const void *data, size_t len, mode_t mode, char *tmp,
                       size_t tmplen, csod_error *err)
{
	return write_tmp(tmpdir, data, len, mode, tmp, tmplen, 1, err);
}

int csod_write_tmpfile_unsynced(const char *tmpdir, const void *data, size_t len, mode_t mode,
                                char *tmp, size_t tmplen, csod_error *err)
{
	return write_tmp(tmpdir, data, len, mode, tmp, tmplen, 0, err);
}

int csod_syncfs(const char *dir, csod_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return csod_fail_errno(err, "cannot open %s", dir);
	int rc = syncfs(fd);
	if (rc < 0)
		csod_fail_errno(err, "cannot write the files of %s to disk", dir);
	close(fd);
	return rc;
}

int csod_open_secret(const char *path, const char *what, off_t *size, csod_error *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return csod_fail_errno(err, "cannot open the %s %s", what, path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return csod_fail(err, "%s %s is not a regular file", what, path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return csod_fail(err,
		                 "%s %s has mode %04o: group and others must have no access "
		                 "(chmod 0400)",
		                 what, path, (unsigned)(st.st_mode & 07777));
	}
	*size = st.st_size;
	return fd;
}

int csod_read_file(const char *path, size_t max, char **data, size_t *len, csod_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return csod_fail_errno(err, "cannot open %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return csod_fail(err, "%s is not a regular file", path);
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		return csod_fail(err, "%s is larger than %zu bytes", path, max);
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return csod_fail(err, "out of memory reading %s", path);
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*data = buf;
	if (len)
		*len = got;
	return 0;
}

int csod_mkdir_p(const char *path, mode_t mode, csod_error *err)
{
	char buf[PATH_MAX];
	if (csod_path(buf, sizeof buf, "%s", path) < 0)
		return csod_fail(err, "path too long: %s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return csod_fail_errno(err, "cannot create directory %s", buf);
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return csod_fail_errno(err, "cannot create directory %s", buf);
	return 0;
}

int csod_rm_rf(const char *path)
{
	return csod_tree_remove(path);
}

int csod_copy_fd(int in_fd, int out_fd, csod_error *err)
{
	for (;;) {
		ssize_t n = copy_file_range(in_fd, NULL, out_fd, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
			break;
		return csod_fail_errno(err, "copy failed");
	}
	char buf[1 << 16];
	for (;;) {
		ssize_t n = read(in_fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return csod_fail_errno(err, "read failed");
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out_fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return csod_fail_errno(err, "write failed");
			off += w;
		}
	}
}
