/* A complete drop becomes a request: its bytes are copied into the
 * daemon-private store (a fresh inode nobody else can write, so what is
 * approved is exactly what is signed), hashed, checked, and recorded. */
#ifndef CSOD_INTAKE_H
#define CSOD_INTAKE_H

#include "daemon.h"
#include "request.h"

/* The watcher's callback: takes inbox/<developer>/<entry>. */
void csod_intake_drop(csod_daemon *d, const char *developer, const char *entry, int is_dir);

/* Folders in inbox/ that belong to no developer: an ERROR file in the
 * outbox of that name says so (rewritten only when something new arrives). */
void csod_intake_check_strays(csod_daemon *d);

/* Called when the intake threads' eventfd is readable: records the
 * requests whose files have been taken. */
void csod_intake_collect(csod_daemon *d);

/* At start-up: finishes intakes that a crash interrupted. */
void csod_intake_recover(csod_daemon *d);
/* Within intake (intake.c, intake_recover.c): starts the copy of a drop
 * already in store/incoming (inline: on this thread, at start-up); the
 * owner of an inbox; the removal of an intake's store/incoming folder. */
void csod_intake_start(csod_daemon *d, const char *id, const char *developer, const char *entry,
                       uid_t owner, int inline_run, const char *refusal, int64_t need);
uid_t csod_inbox_owner(csod_daemon *d, const char *developer);
void csod_intake_remove_incoming(csod_daemon *d, const char *id, const char *developer,
                                 uid_t owner);
/* Records a new request (and its auto-approval, when auto_approve: then
 * r leaves approved) in one transaction with their audit rows; mail (may
 * be NULL) is queued with it. On failure nothing is recorded and r is as
 * it came. */
struct csod_notice;
int csod_intake_record(csod_daemon *d, csod_request *r, const struct csod_notice *mail,
                       int auto_approve, csod_error *err);
/* Intakes that nodes whose lease ran out left in store/incoming: each is
 * renamed to this node's name (the first rename wins) and finished. */
void csod_intake_take_over(csod_daemon *d);

/* Tries again an intake that ran out of space (store/incoming/<id>.
 * <developer>/<entry>), if the spool now has room for it. */
void csod_intake_resume(csod_daemon *d, const char *id, const char *developer, const char *entry);

/* Copies in_fd to out_fd while computing MD5, SHA-1 and SHA-256 into f;
 * refuses more than max bytes (0 = no limit). progress (may be NULL) is
 * told the bytes copied so far after each chunk. */
int csod_copy_and_hash(int in_fd, int out_fd, int64_t max, csod_file *f,
                       void (*progress)(void *ctx, int64_t done), void *ctx, csod_error *err);

/* A request.conf larger than this is refused unread. */
#define CSOD_REQUEST_CONF_MAX 65536

/* Parses a folder drop's request.conf, read from fd (a regular file the
 * caller opened and checked), into r (version, service, digests,
 * organization, department, options). It reads nothing else: @include is
 * refused. Errors name the line. */
int csod_request_conf_parse_fd(int fd, csod_request *r, csod_error *err);

/* The signing options a request's own settings give (digests, copied
 * into names, whether request.conf asked for them, append, msi_dse); the
 * rest of o is left as it is. */
void csod_request_sign_options(const csod_request *r, csod_sign_options *o,
                               char names[CSOD_MAX_DIGESTS][16]);

/* Whether an approver is needed: the organization's setting (csodctl
 * auto-approve, else the config's), else the global one. */
int csod_auto_approve_effective(csod_daemon *d, const char *organization);

#endif
