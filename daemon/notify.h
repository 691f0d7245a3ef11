/* Mail about a request: to approvers when it waits, to the developer when
 * it is signed, declined or failed. Queued in the database; the mailer
 * thread sends it, so nothing here waits on a mail server. */
#ifndef CSOD_NOTIFY_H
#define CSOD_NOTIFY_H

#include "daemon.h"
#include "request.h"

/* kind: "approval_needed" "signed" "declined" "failed". */
void csod_notify(csod_daemon *d, const csod_request *r, const char *kind);

#endif
