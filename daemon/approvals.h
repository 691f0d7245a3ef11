/* Approval markers: approvals/<id>.approve and <id>.decline. The marker's
 * owner uid names the approver; the filesystem is the authentication. */
#ifndef CSOD_APPROVALS_H
#define CSOD_APPROVALS_H

#include "daemon.h"

/* Starts watching approvals/ (sets d->approvals_fd). */
int csod_approvals_watch(csod_daemon *d, csod_error *err);

/* Processes every marker present (on inotify events, at start and on the
 * periodic scan). */
void csod_approvals_scan(csod_daemon *d);

#endif
