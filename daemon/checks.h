/* Pre-sign checks: before a request can be approved (and before
 * auto-approve signs it), ClamAV and the policy hook (checks { } in
 * csod.conf) look at its store copy, once, on worker threads. Their
 * verdicts are kept with the request (database, details.json,
 * request.json, `csodctl request show`, the approvers' mail) and audited:
 *
 *   pass  auto-approve signs; otherwise the approvers are asked;
 *   fail  auto-approve declines with the reason; otherwise the request
 *         waits for an approver, flagged, who may still approve it (the
 *         verdict goes into the approval's audit record) or decline it;
 *   hold  (the hook asked for a human, or a check could not run) never a
 *         pass: the request waits for an approver, under auto-approve too.
 *
 * While checks run, a request cannot be approved (it can be declined).
 * Checks interrupted by a stop run again at the next start. */
#ifndef CSOD_CHECKS_H
#define CSOD_CHECKS_H

#include "daemon.h"
#include "request.h"

int csod_checks_start(csod_daemon *d);
void csod_checks_stop(csod_daemon *d); /* kills running checks: they run again at start */
int csod_checks_fd(const csod_daemon *d);

/* Queues the checks of r, a new request recorded with checks "pending". */
void csod_checks_submit(csod_daemon *d, const csod_request *r);

/* `csodctl request recheck`: the checks of r, a request waiting for
 * approval whose checks are not running, run again (a scanner that could
 * not run is back); their verdicts then decide as for a new request. */
void csod_checks_rerun(csod_daemon *d, csod_request *r);

/* Acts on finished checks (the workers' eventfd is readable). */
void csod_checks_collect(csod_daemon *d);

/* Start-up: queues the checks of every waiting request whose checks did
 * not finish. */
void csod_checks_recover(csod_daemon *d);

#endif
