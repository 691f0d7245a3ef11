/* Who may read the folders the daemon publishes into: outbox/<user> its
 * developer only, requests/ the approvers only. Both are the daemon's
 * (its uid and gid), closed to the owning group and to others, and opened
 * to exactly those people by POSIX ACL entries (r-x). Per-person ACL
 * entries need no per-developer group, and do not depend on the primary
 * group, which directories (LDAP, AD) often share among everyone. What is
 * published inside keeps its ordinary modes: the folder is the gate. */
#ifndef CSOD_SPOOL_ACCESS_H
#define CSOD_SPOOL_ACCESS_H

#include <sys/types.h>

#include "../lib/error.h"
#include "config.h"

/* The uid and gid the daemon's folders belong to: the caller's own, except
 * that root (csodctl run by the operator, or a daemon run as root) acts for
 * whoever owns the spool's daemon-private store/ folder. */
void csod_spool_owner(const char *spool, uid_t *uid, gid_t *gid);

/* Each of these returns 0 when done, 1 when the folder is closed to the
 * daemon alone because its ACL could not be set (err says why: e.g. a
 * filesystem without POSIX ACLs), -1 when it could not even be closed. */

/* outbox/<user> (which must exist): the daemon's, readable by <user> when
 * that is a Unix user, else by the daemon alone. */
int csod_outbox_restrict(const char *spool, const char *user, csod_error *err);

/* Makes outbox/<user>/<id> (request_dir, a path under the spool), and
 * outbox/<user> first when it is missing, closed as above before anything
 * is put in it: a folder made on demand is never open to others, even
 * until the next start. */
int csod_outbox_mkdir(const char *request_dir, csod_error *err);

/* Every folder in outbox/, also of developers no longer configured: an
 * upgrade closes what an older csod left open to a group. Failures are
 * logged; the start goes on. */
void csod_outboxes_restrict(const char *spool);

/* requests/: the daemon's, readable by every admin of cfg and by the
 * members of cfg->approvers_group; approvals/: the same, sticky, where the
 * admins alone may also create markers. Run at start and on every reload,
 * so an admin removed from the config loses access. */
int csod_approver_dirs_restrict(const char *spool, const csod_config *cfg, csod_error *err);

/* A folder or file the daemon made (fd): the daemon's, readable by the
 * users uids only (r-x on a folder, r-- on a file; the daemon's own file
 * read-only). requests/<id>/files/ and what is in it. */
int csod_grant_readers_fd(int fd, const char *spool, const char *label, const uid_t *uids,
                          int n_uids, csod_error *err);

#endif
