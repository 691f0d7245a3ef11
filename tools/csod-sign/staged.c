#include "staged.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "../../lib/fsutil.h"

int csod_stage_open(const char *dest, char *tmp, size_t tmplen, csod_error *err)
{
	char dir[PATH_MAX];
	struct stat st;
	tmp[0] = '\0';
	/* The output is renamed into place: over a device, a FIFO or a socket
	 * that would replace the node itself (as root, /dev/null). */
	if (lstat(dest, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
		return csod_fail(err,
		                 "%s: exists and is not a regular file (csod-sign replaces "
		                 "files, never devices, FIFOs or sockets)",
		                 dest);
	if (csod_path(dir, sizeof dir, "%s", dest) < 0)
		return csod_fail(err, "%s: path too long", dest);
	return csod_tmpfile(dirname(dir), "csod-sign", tmp, tmplen, err);
}

int csod_stage_publish(char *tmp, const char *dest, int sync, csod_error *err)
{
	/* Atomic either way (a rename); durable only when asked: the tools
	 * csod-sign replaces do not fsync, and on a slow disk the fsync alone
	 * can cost more than signing. */
	if (sync ? csod_publish(tmp, dest, err) < 0
	         : rename(tmp, dest) < 0 &&
	               csod_fail_errno(err, "cannot rename %s to %s", tmp, dest) < 0)
		return -1;
	tmp[0] = '\0';
	return 0;
}
