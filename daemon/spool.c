/* The spool layout of DESIGN.md. store/, state/ and tmp/ are the daemon's
 * alone; the rest is shared with developers and approvers. */
#include "daemon.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "../lib/fsutil.h"

int csod_spool_path(const csod_daemon *d, char *buf, size_t len, const char *fmt, ...)
{
	char rel[PATH_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(rel, sizeof rel, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof rel)
		return -1;
	return csod_path(buf, len, "%s/%s", d->spool, rel);
}

int csod_spool_prepare(const char *spool, csod_error *err)
{
	static const struct {
		const char *dir;
		mode_t mode;
		int by_acl; /* mode and ACL are set by spool_access.c, after the lock */
	} layout[] = {
	    {"", 0755, 0},           {"inbox", 0755, 0},          {"outbox", 0755, 0},
	    {"approvals", 01700, 1}, {"approvals/done", 0755, 0}, {"requests", 0700, 1},
	    {"ca", 0755, 0},         {"ca/pending", 0755, 0},     {"ca/issued", 0755, 0},
	    {"mail", 0750, 0},       {"store", 0700, 0},          {"store/incoming", 0700, 0},
	    {"tmp", 0700, 0},
	};
	for (size_t i = 0; i < sizeof layout / sizeof layout[0]; i++) {
		char path[PATH_MAX];
		if (csod_path(path, sizeof path, "%s/%s", spool, layout[i].dir) < 0)
			return csod_fail(err, "spool path too long: %s", spool);
		if (csod_mkdir_p(path, layout[i].mode, err) < 0)
			return -1;
		/* requests/ and approvals/ get their mode and ACL from
		 * spool_access.c: approvals/ is where the admins alone drop
		 * markers as themselves, sticky so that none moves another's. */
		if (!layout[i].by_acl && chmod(path, layout[i].mode) < 0)
			return csod_fail_errno(err, "cannot set the mode of %s", path);
	}
	return 0;
}
