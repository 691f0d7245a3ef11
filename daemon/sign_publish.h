/* Publishing finished signings in groups (docs/DESIGN.md "Publishing in
 * groups"). A worker leaves a job's checked outputs and chain.pem in tmp/,
 * not yet on disk; the loop gathers the jobs that finished and hands them,
 * as one batch, to a publisher thread: one durability round for all their
 * files (group_sync.h), then each job's renames into its outbox folder,
 * all or nothing per job, then one round for the renames. The loop records
 * the batch's requests as signed when it comes back. While a batch is out,
 * the next one gathers, so the busier the daemon the larger the batches. */
#ifndef CSOD_SIGN_PUBLISH_H
#define CSOD_SIGN_PUBLISH_H

#include "daemon.h"
#include "sign_job.h"

typedef struct csod_sign_batch {
	csod_sign_job **jobs;
	int n, cap;
} csod_sign_batch;

int csod_sign_batches_start(csod_daemon *d);
/* Readable when a published batch is to be taken (csod_sign_batches_take). */
int csod_sign_batches_fd(const csod_daemon *d);
/* A finished job (signed or failed) joins the next batch; the batch goes
 * out at once when none is out. */
void csod_sign_batches_add(csod_daemon *d, csod_sign_job *job);
/* A published batch (its failed jobs say why), or NULL; give it back with
 * csod_sign_batch_free. Taking one sends the next out. */
csod_sign_batch *csod_sign_batches_take(csod_daemon *d);
void csod_sign_batch_free(csod_sign_batch *b);
/* Drops what is gathered or out: those requests are still in_progress in
 * the database, and a restart signs them again. */
void csod_sign_batches_stop(csod_daemon *d);

/* Publishes the batch's jobs (on the publisher thread; tests call it). */
void csod_sign_batch_publish(csod_sign_batch *b);

#endif
