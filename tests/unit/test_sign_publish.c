/* Publishing signed outputs in groups (sign_publish.h): each job of a batch
 * is published all or nothing, whatever the others do, and a job that
 * fails leaves nothing in its outbox folder or in tmp/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/sign_publish.h"
#include "../../lib/fsutil.h"

static char top[64];

static int entries(const char *dir)
{
	DIR *dh = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (dh && (e = readdir(dh)))
		n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	if (dh)
		closedir(dh);
	return n;
}

/* A finished job with n outputs staged in tmp/ (unsynced, as a worker
 * leaves them) for outbox/dev/<name>. */
static csod_sign_job *job_with(const char *name, int n)
{
	csod_sign_job *job = calloc(1, sizeof *job);
	assert_non_null(job);
	snprintf(job->tmp_dir, sizeof job->tmp_dir, "%s/tmp", top);
	snprintf(job->outbox_dir, sizeof job->outbox_dir, "%s/outbox/dev/%s", top, name);
	csod_error err;
	assert_int_equal(csod_write_tmpfile_unsynced(job->tmp_dir, "chain", 5, 0644, job->chain_tmp,
	                                             sizeof job->chain_tmp, &err),
	                 0);
	job->staged = calloc((size_t)n, sizeof *job->staged);
	job->n_staged = job->cap_staged = n;
	for (int i = 0; i < n; i++) {
		snprintf(job->staged[i].name, sizeof job->staged[i].name, "out%d.p7s", i);
		assert_int_equal(csod_write_tmpfile_unsynced(job->tmp_dir, "sig", 3, 0644,
		                                             job->staged[i].tmp,
		                                             sizeof job->staged[i].tmp, &err),
		                 0);
	}
	return job;
}

static void publish(csod_sign_job **jobs, int n)
{
	csod_sign_batch *b = calloc(1, sizeof *b);
	b->jobs = calloc((size_t)n, sizeof *b->jobs);
	memcpy(b->jobs, jobs, (size_t)n * sizeof *jobs);
	b->n = b->cap = n;
	csod_sign_batch_publish(b);
	/* The caller looks at the jobs: free only the batch's list. */
	free(b->jobs);
	free(b);
}

static int setup(void **state)
{
	(void)state;
	snprintf(top, sizeof top, "/tmp/csod-unit-publish.XXXXXX");
	assert_non_null(mkdtemp(top));
	char path[128];
	snprintf(path, sizeof path, "%s/tmp", top);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/outbox", top);
	mkdir(path, 0700);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	csod_rm_rf(top);
	return 0;
}

/* Small batches (fsync each file) and large ones (syncfs) alike. */
static void check_batch(int jobs_n, int outputs)
{
	csod_sign_job *jobs[16];
	char dir[PATH_MAX];
	for (int i = 0; i < jobs_n; i++) {
		char name[32];
		snprintf(name, sizeof name, "r%d-%d", jobs_n, i);
		jobs[i] = job_with(name, outputs);
	}
	/* The second job's second output cannot be renamed (a folder with
	 * something in it has its name) after chain.pem and its first output
	 * were. */
	snprintf(dir, sizeof dir, "%s/outbox/dev", top);
	mkdir(dir, 0700);
	snprintf(dir, sizeof dir, "%s/outbox/dev/r%d-1", top, jobs_n);
	mkdir(dir, 0755);
	snprintf(dir, sizeof dir, "%s/outbox/dev/r%d-1/out1.p7s", top, jobs_n);
	mkdir(dir, 0755);
	snprintf(dir, sizeof dir, "%s/outbox/dev/r%d-1/out1.p7s/x", top, jobs_n);
	mkdir(dir, 0755);
	publish(jobs, jobs_n);
	for (int i = 0; i < jobs_n; i++) {
		snprintf(dir, sizeof dir, "%s/outbox/dev/r%d-%d", top, jobs_n, i);
		if (i == 1) {
			/* Nothing of it is left: only the folder in the way. */
			assert_true(jobs[i]->failed);
			assert_int_equal(entries(dir), 1);
		} else {
			assert_false(jobs[i]->failed);
			assert_int_equal(entries(dir), outputs + 1);
		}
		csod_sign_job_free(jobs[i]);
	}
	snprintf(dir, sizeof dir, "%s/tmp", top);
	assert_int_equal(entries(dir), 0);
}

static void test_small_batch(void **state)
{
	(void)state;
	check_batch(2, 2);
}

static void test_large_batch(void **state)
{
	(void)state;
	check_batch(6, 3);
}

/* A job that failed in its worker is passed over. */
static void test_failed_job_skipped(void **state)
{
	(void)state;
	csod_sign_job *jobs[2] = {job_with("ok", 1), job_with("bad", 1)};
	csod_sign_job_drop_staged(jobs[1]);
	jobs[1]->failed = 1;
	publish(jobs, 2);
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/outbox/dev/ok", top);
	assert_int_equal(entries(dir), 2);
	snprintf(dir, sizeof dir, "%s/outbox/dev/bad", top);
	assert_int_equal(access(dir, F_OK), -1);
	csod_sign_job_free(jobs[0]);
	csod_sign_job_free(jobs[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_small_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failed_job_skipped, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
