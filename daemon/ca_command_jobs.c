#include "ca_command_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../lib/log.h"
#include "ca_external.h"
#include "workers.h"

/* Commands mostly wait on a remote CA: two let a slow or hanging one not
 * hold up every other order, without flooding the CA at a mass enrollment. */
#define CA_COMMAND_THREADS 2

struct csod_ca_jobs {
	csod_workers *pool;
	int cancel_fd;
};

static void run(void *arg)
{
	csod_ca_job *job = arg;
	csod_error_clear(&job->err);
	job->rc =
	    csod_ca_run_command(job->command, job->csr, job->order_no, job->email, job->timeout_s,
	                        job->cancel_fd, &job->answer, &job->answer_len, &job->err);
}

void csod_ca_job_free(csod_ca_job *job)
{
	if (!job)
		return;
	free(job->command);
	free(job->csr);
	free(job->email);
	free(job->answer);
	free(job);
}

/* A job dropped at stop: its order stays requested for the next start. */
static void discard(void *arg)
{
	csod_ca_job *job = arg;
	csod_log(LOG_NOTICE, NULL,
	         "certificate order %s stays requested as csodd stops; its ca.command runs "
	         "again at the next start",
	         job->order_no);
	csod_ca_job_free(job);
}

csod_ca_jobs *csod_ca_jobs_start(void)
{
	csod_ca_jobs *jobs = calloc(1, sizeof *jobs);
	if (!jobs)
		return NULL;
	jobs->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	jobs->pool = csod_workers_start(CA_COMMAND_THREADS, run, discard);
	if (jobs->cancel_fd < 0 || !jobs->pool) {
		csod_ca_jobs_stop(jobs);
		return NULL;
	}
	return jobs;
}

void csod_ca_jobs_stop(csod_ca_jobs *jobs)
{
	if (!jobs)
		return;
	/* Never read, so it stays readable: every command running or about to
	 * start sees it and is killed. */
	uint64_t one = 1;
	if (jobs->cancel_fd >= 0 && write(jobs->cancel_fd, &one, sizeof one) < 0)
		csod_log(LOG_ERR, NULL, "cannot signal the CA commands to stop");
	csod_workers_stop(jobs->pool);
	if (jobs->cancel_fd >= 0)
		close(jobs->cancel_fd);
	free(jobs);
}

int csod_ca_jobs_fd(const csod_ca_jobs *jobs)
{
	return csod_workers_fd(jobs->pool);
}

int csod_ca_jobs_submit(csod_ca_jobs *jobs, int64_t order_id, const char *order_no,
                        const char *command, const char *csr, const char *email, int timeout_s)
{
	csod_ca_job *job = calloc(1, sizeof *job);
	if (!job)
		return -1;
	job->order_id = order_id;
	snprintf(job->order_no, sizeof job->order_no, "%s", order_no);
	job->command = strdup(command);
	job->csr = strdup(csr);
	job->email = strdup(email ? email : "");
	job->timeout_s = timeout_s;
	job->cancel_fd = jobs->cancel_fd;
	if (!job->command || !job->csr || !job->email) {
		csod_ca_job_free(job);
		return -1;
	}
	csod_workers_submit(jobs->pool, job);
	return 0;
}

csod_ca_job *csod_ca_jobs_take(csod_ca_jobs *jobs)
{
	return csod_workers_take_done(jobs->pool);
}
