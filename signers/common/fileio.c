#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_BUF       (1 << 16)
#define WRITEBACK_STEP (8u * 1024u * 1024u)

int csod_pwrite_all(int fd, const void *buf, size_t len, off_t at, csod_error *err)
{
	const unsigned char *p = buf;
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return csod_fail_errno(err, "cannot write the output");
		p += n;
		len -= (size_t)n;
		at += n;
	}
	return 0;
}

void csod_write_back(int fd, uint64_t *from, uint64_t end)
{
	if (end <= *from || end - *from < WRITEBACK_STEP)
		return; /* not far enough yet (or written out of order) */
	sync_file_range(fd, (off64_t)*from, (off64_t)(end - *from), SYNC_FILE_RANGE_WRITE);
	*from = end;
}

void csod_write_back_all(int fd)
{
	sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

int csod_copy_range(int in, off_t in_at, int out, off_t out_at, uint64_t len, csod_error *err)
{
	loff_t ioff = in_at, ooff = out_at;
	const loff_t end = in_at + (loff_t)len;
	while (ioff < end) {
		ssize_t n = copy_file_range(in, &ioff, out, &ooff, (size_t)(end - ioff), 0);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return csod_fail(err, "the input is shorter than its headers say");
		break; /* not supported between these files: plain reads and writes */
	}
	unsigned char buf[COPY_BUF];
	while (ioff < end) {
		size_t want = end - ioff < COPY_BUF ? (size_t)(end - ioff) : COPY_BUF;
		ssize_t n = pread(in, buf, want, ioff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return csod_fail_errno(err, "cannot read the input");
		if (n == 0)
			return csod_fail(err, "the input is shorter than its headers say");
		if (csod_pwrite_all(out, buf, (size_t)n, ooff, err) < 0)
			return -1;
		ioff += n;
		ooff += n;
	}
	return 0;
}

int csod_anon_file(const char *dir, csod_error *err)
{
	if (!dir || !*dir)
		dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return csod_fail_errno(err, "cannot make a scratch file in %s", dir);
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/.csod-scratch-XXXXXX", dir) >= sizeof path)
		return csod_fail(err, "%s: path too long", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return csod_fail_errno(err, "cannot make a scratch file in %s", dir);
	unlink(path);
	return fd;
}

int csod_read_whole(int fd, uint64_t max, const char *what, unsigned char **buf, size_t *len,
                    csod_error *err)
{
	struct stat st;
	*buf = NULL;
	if (fstat(fd, &st) < 0)
		return csod_fail_errno(err, "cannot stat the file");
	if ((uint64_t)st.st_size > max)
		return csod_fail(err, "%lld bytes: %s over %llu MiB are not signed",
		                 (long long)st.st_size, what, (unsigned long long)(max >> 20));
	size_t size = (size_t)st.st_size;
	unsigned char *p = malloc(size ? size : 1);
	if (!p)
		return csod_fail(err, "out of memory");
	size_t got = 0;
	while (got < size) {
		ssize_t n = pread(fd, p + got, size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(p);
			return n < 0 ? csod_fail_errno(err, "cannot read the file")
			             : csod_fail(err, "the file shrank while it was read");
		}
		got += (size_t)n;
	}
	*buf = p;
	*len = size;
	return 0;
}
