/* Mail about a request: to approvers when it waits, to the developer when
 * it is signed, declined or failed. Rendered first, then queued in the
 * database in the same transaction as the state it announces (a crash
 * cannot keep one and lose the other); the mailer thread sends it, so
 * nothing here waits on a mail server. */
#ifndef CSOD_NOTIFY_H
#define CSOD_NOTIFY_H

#include "daemon.h"
#include "request.h"

/* The messages of kind ("approval_needed" "signed" "declined" "failed")
 * about r, rendered; NULL when there are none (no transport, nobody to
 * tell). A message that cannot be rendered is logged and left out. */
typedef struct csod_notice csod_notice;
csod_notice *csod_notice_build(const csod_daemon *d, const csod_request *r, const char *kind);
/* The same from the parts of the daemon it reads (csodctl has no daemon):
 * the config (templates, share_path, admins), the spool and the database
 * (the developer's address). */
csod_notice *csod_notice_build_with(const csod_config *cfg, const char *spool, csod_db *db,
                                    const csod_request *r, const char *kind);
/* Queues them (inside the caller's transaction). n may be NULL. */
int csod_notice_queue(csod_db *db, const csod_notice *n, csod_error *err);
int csod_notice_count(const csod_notice *n);
void csod_notice_free(csod_notice *n);

/* Mail of kind ("cert_issued", "cert_expiring") to every admin whose scope
 * covers organization/department; vars as for csod_mail_render. */
void csod_notify_admins(csod_db *db, const csod_config *cfg, const char *kind,
                        const char *organization, const char *department, const char *const *vars);

/* The service that signs r's files, as people are told: request.conf's
 * choice, else the one their engines (known from intake on) have in
 * common ("authenticode"), "several services", or "by file type" before
 * intake has looked. */
const char *csod_request_service_of(const csod_request *r);

struct csod_dev_record;
/* Queues the welcome mail to a developer: how to map the share, their
 * inbox, outbox and status page (as share_path shows them), rendered from
 * the welcome template of their organization, else the global one. */
int csod_welcome_queue(const csod_config *cfg, csod_db *db, const struct csod_dev_record *dev,
                       csod_error *err);

#endif
