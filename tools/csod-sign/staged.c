#include "staged.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>

#include "../../lib/fsutil.h"

int csod_stage_open(const char *dest, char *tmp, size_t tmplen, csod_error *err)
{
	char dir[PATH_MAX];
	tmp[0] = '\0';
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
