/* Approved requests go to the signing workers; their results come back
 * here, on the event-loop thread, to be published. */
#ifndef CSOD_DISPATCH_H
#define CSOD_DISPATCH_H

#include "daemon.h"
#include "request.h"

/* Marks r approved (by approver, with message: only while it is still
 * created) and hands it to a worker: 0; -2 when another node decided
 * first; -1 when the database is full (then the approval is recorded once
 * there is room, space.h). */
int csod_dispatch_approve(csod_daemon *d, csod_request *r, const char *approver,
                          const char *message);

/* Hands an approved (or, after a restart, in_progress) request to a worker. */
void csod_dispatch(csod_daemon *d, const char *id);

/* Called when the workers' eventfd is readable: finished jobs join the
 * next batch to publish (sign_publish.h). */
void csod_dispatch_collect(csod_daemon *d);

/* Called when a published batch is back: records each request's outcome
 * (signed, failed, or waiting for room). */
void csod_dispatch_published(csod_daemon *d);

/* Approved requests that wait for their certificate to be issued: tries
 * them again (after each certificate event and on the periodic scan). */
void csod_dispatch_waiting(csod_daemon *d);

/* Start-up: re-queues approved and in_progress requests, tidies the store
 * of finished ones. */
void csod_dispatch_recover(csod_daemon *d);

#endif
