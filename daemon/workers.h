/* A fixed pool of signing threads. Jobs are opaque; a finished job is put on
 * a done list and the eventfd is signalled, so the event loop picks results
 * up without ever blocking on a signature. */
#ifndef CSOD_WORKERS_H
#define CSOD_WORKERS_H

typedef struct csod_workers csod_workers;

/* run(job) is called on a worker thread; discard(job) frees a job that
 * never ran or was never collected, at stop. */
csod_workers *csod_workers_start(int threads, void (*run)(void *job), void (*discard)(void *job));
void csod_workers_stop(csod_workers *w); /* finishes the running jobs, drops queued */
int csod_workers_fd(const csod_workers *w);
void csod_workers_submit(csod_workers *w, void *job);
/* Returns a finished job, or NULL when none is left. */
void *csod_workers_take_done(csod_workers *w);

#endif
