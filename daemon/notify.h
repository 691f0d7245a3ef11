/* Mail about a request: to approvers when it waits, to the developer when
 * it is signed, declined or failed. Queued in the database; the mailer
 * thread sends it, so nothing here waits on a mail server. */
#ifndef CSOD_NOTIFY_H
#define CSOD_NOTIFY_H

#include "daemon.h"
#include "request.h"

/* kind: "approval_needed" "signed" "declined" "failed". */
void csod_notify(csod_daemon *d, const csod_request *r, const char *kind);

/* Mail of kind ("cert_issued", "cert_expiring") to every admin whose scope
 * covers organization/department; vars as for csod_mail_render. */
void csod_notify_admins(csod_db *db, const csod_config *cfg, const char *kind,
                        const char *organization, const char *department, const char *const *vars);

#endif
