/* csodctl keys rotate-master: re-encrypts every database key under a new
 * master key. csodd holds the sealing key in memory, so it must be stopped:
 * csodctl takes the daemon's lock for the whole rotation, which also keeps
 * a csodd from starting half-way through. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "../../daemon/audit.h"
#include "../../daemon/keystore.h"
#include "ctl.h"

static int rotate_master(ctl *c)
{
	/* Offline and root's alone: through csodd it could not take the lock
	 * anyway, and only root may touch the database directly. */
	if (c->serving || !c->is_root)
		return ctl_error("%s may not rotate the master key (root only, with csodd stopped)",
		                 c->user);
	char lock[PATH_MAX + 32];
	snprintf(lock, sizeof lock, "%s/csodd.lock", c->cfg->state_dir);
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (fd >= 0)
			close(fd);
		return ctl_error("csodd is running on %s: stop it first (it holds the master key)",
		                 c->spool);
	}
	int rc = 1;
	csod_db *db = ctl_open_db(c, 1);
	if (db) {
		csod_error err;
		int count = 0;
		if (csod_keystore_rotate_master(c->cfg, c->spool, db, &count, &err) < 0) {
			ctl_error("%s", err.msg);
		} else {
			csod_audit(db, c->user, "keys.rotate_master", c->cfg->keys.master_key_file,
			           "%d key(s) resealed", count);
			printf("master key rotated: %d key(s) resealed\n", count);
			rc = 0;
		}
		csod_db_close(db);
	}
	close(fd);
	return rc;
}

int cmd_keys(ctl *c, int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "rotate-master") == 0)
		return rotate_master(c);
	return ctl_usage_error("keys", NULL);
}
