#include "dispatch.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "audit.h"
#include "cluster.h"
#include "intake.h"
#include "sign_job.h"
#include "sign_publish.h"
#include "space.h"
#include "workers.h"
#include "request_paths.h"

/* Signing (again) waits for room on the spool or in the database; 1 when
 * it waits, 0 when it ran out of room too often. */
static int wait_for_room(csod_daemon *d, const char *id, const char *why)
{
	if (csod_space_wait(d, CSOD_WAIT_SIGN, id, NULL, NULL, why) < CSOD_SPACE_ATTEMPTS)
		return 1;
	csod_space_done(d, CSOD_WAIT_SIGN, id, NULL, NULL);
	return 0;
}

/* The request's originals; a path that does not fit removes nothing. */
static void remove_store(csod_daemon *d, const char *id)
{
	char store[PATH_MAX];
	if (csod_spool_path(d, store, sizeof store, "store/%s", id) == 0)
		csod_rm_rf(store);
}

static void fail_request(csod_daemon *d, csod_request *r, const char *reason)
{
	snprintf(r->error, sizeof r->error, "%s", reason);
	csod_error err;
	if (csod_request_transition_mail(d, r, "failed", "csodd", "failed", &err) < 0) {
		/* Not recorded (a full database): the request keeps its store copy
		 * and is tried again, and fails then if it still must. */
		if (!wait_for_room(d, r->id, err.msg))
			csod_log(LOG_ERR, r->id,
			         "cannot record the failure (%s); the request "
			         "is tried again at the next start",
			         err.msg);
		return;
	}
	csod_space_done(d, CSOD_WAIT_SIGN, r->id, NULL, NULL);
	remove_store(d, r->id);
}

/* *on_order is set when the developer's certificate is still on order. */
static csod_sign_job *make_job(csod_daemon *d, csod_request *r, int *on_order, csod_error *err)
{
	csod_sign_job *job = calloc(1, sizeof *job);
	if (!job) {
		csod_fail(err, "out of memory");
		return NULL;
	}
	snprintf(job->id, sizeof job->id, "%s", r->id);
	snprintf(job->service, sizeof job->service, "%s", r->service);
	snprintf(job->shown.id, sizeof job->shown.id, "%s", r->id);
	snprintf(job->shown.developer, sizeof job->shown.developer, "%s", r->developer);
	snprintf(job->shown.drop_name, sizeof job->shown.drop_name, "%s", r->drop_name);
	if (csod_spool_path(d, job->store_dir, sizeof job->store_dir, "store/%s", r->id) < 0 ||
	    csod_spool_path(d, job->tmp_dir, sizeof job->tmp_dir, "%s", d->tmp_rel) < 0 ||
	    csod_request_outbox(d->spool, r, job->outbox_dir, sizeof job->outbox_dir) < 0) {
		csod_fail(err, "spool path too long");
		csod_sign_job_free(job);
		return NULL;
	}
	int rc = csod_pki_identity(d->pki, r->developer, r->organization, &job->identity,
	                           &r->certificate_id, &job->chain_pem, err);
	if (rc != 0) {
		*on_order = rc > 0;
		csod_sign_job_free(job);
		return NULL;
	}
	job->trust = csod_pki_trust(d->pki);
	csod_request_sign_options(r, &job->options, job->digest_names);
	const csod_timestamp_config *ts = &d->cfg->timestamp;
	csod_timestamp_options *to = &job->options.timestamp;
	/* Copied: a reload may free the config while the job runs. */
	for (int i = 0; ts->urls && ts->urls[i] && i < CSOD_MAX_TSA; i++) {
		snprintf(job->timestamp_urls[i], sizeof job->timestamp_urls[i], "%s", ts->urls[i]);
		to->urls[to->n_urls++] = job->timestamp_urls[i];
	}
	snprintf(job->timestamp_ca, sizeof job->timestamp_ca, "%s", ts->ca_file ? ts->ca_file : "");
	to->ca_file = job->timestamp_ca[0] ? job->timestamp_ca : NULL;
	to->required = ts->required;
	to->timeout_s = ts->timeout_s;
	to->retries = ts->retries;
	to->legacy = r->options.timestamp_legacy;
	to->note = csod_sign_job_note;
	to->note_arg = job;
	/* Strings the job points at must outlive the request struct. */
	snprintf(job->description, sizeof job->description, "%s", r->options.description);
	snprintf(job->url, sizeof job->url, "%s", r->options.url);
	job->options.description = job->description[0] ? job->description : NULL;
	job->options.url = job->url[0] ? job->url : NULL;
	job->options.max_size = d->cfg->max_file_size;
	job->options.tmp_dir = job->tmp_dir; /* inner files of a deep-signed drop */
	job->detached = r->options.detached;
	job->n_files = r->n_files;
	job->files = calloc((size_t)r->n_files, sizeof *job->files);
	if (!job->files) {
		csod_sign_job_free(job);
		csod_fail(err, "out of memory");
		return NULL;
	}
	memcpy(job->files, r->files, sizeof *job->files * (size_t)r->n_files);
	return job;
}

/* The room a request's signing takes: about its files' size again for
 * the signed copies (a detached signature is small: one block), and the
 * certificate chain. A hash file may list several files, each getting a
 * signature of a few KB: counted as 8 KB for every 34 bytes (the shortest
 * line: an MD5, a space, a one-letter name and a newline). */
static int64_t sign_need(const csod_request *r, int64_t block)
{
	int64_t need = block, signature = (8192 + block - 1) / block * block;
	for (int i = 0; i < r->n_files; i++) {
		need += (r->files[i].size + block - 1) / block * block + block;
		if (strcmp(r->files[i].engine, "hash") == 0)
			need += r->files[i].size / 34 * signature;
	}
	return need;
}

void csod_dispatch(csod_daemon *d, const char *id)
{
	csod_request r;
	if (csod_request_load(d->db, id, &r) != 0) {
		csod_log(LOG_ERR, id, "cannot load the request to sign it");
		csod_request_free(&r);
		return;
	}
	if (strcmp(r.state, "approved") != 0 && strcmp(r.state, "in_progress") != 0) {
		/* Finished while it waited for room. */
		csod_space_done(d, CSOD_WAIT_SIGN, id, NULL, NULL);
		csod_request_free(&r);
		return;
	}
	/* One node signs it (cluster.h): the claim is this node's, or another
	 * live node holds it and this one leaves it alone. */
	int claimed = csod_cluster_claim_request(d, id);
	if (claimed <= 0) {
		if (claimed < 0)
			csod_log(LOG_ERR, id, "cannot claim it for signing: %s",
			         csod_db_errmsg(d->db));
		csod_request_free(&r);
		return;
	}
	csod_room room;
	char why[512];
	int64_t need = 0;
	if (csod_room_read(d, &room) == 0) {
		need = sign_need(&r, room.block);
		if (csod_room_fits(&room, need, 0, why, sizeof why) == 0) {
			csod_space_wait(d, CSOD_WAIT_SIGN, id, NULL, NULL, why);
			csod_request_free(&r);
			return;
		}
	}
	csod_error err;
	int on_order = 0;
	csod_sign_job *job = make_job(d, &r, &on_order, &err);
	if (!job && on_order && strcmp(r.state, "approved") == 0) {
		/* The certificate is on order (a new developer, a renewal): the
		 * request stays approved and csod_dispatch_waiting tries again. */
		csod_log(LOG_INFO, id, "waiting for a certificate: %s", err.msg);
		csod_request_free(&r);
		return;
	}
	if (!job) {
		fail_request(d, &r, err.msg);
		csod_request_free(&r);
		return;
	}
	int moved = strcmp(r.state, "in_progress") == 0
	                ? 0
	                : csod_request_transition(d, &r, "in_progress", "csodd", &err);
	if (moved < 0) {
		if (moved == -2)
			csod_log(LOG_INFO, id, "%s", err.msg);
		else if (!wait_for_room(d, id, err.msg))
			csod_log(LOG_ERR, id, "%s", err.msg);
		csod_sign_job_free(job);
		csod_request_free(&r);
		return;
	}
	csod_space_trying(d, CSOD_WAIT_SIGN, id, NULL, NULL);
	job->need = need;
	csod_space_claim(d, need);
	d->in_flight++;
	csod_workers_submit(d->workers, job);
	csod_request_free(&r);
}

int csod_dispatch_approve(csod_daemon *d, csod_request *r, const char *approver,
                          const char *message)
{
	snprintf(r->approver, sizeof r->approver, "%s", approver);
	snprintf(r->message, sizeof r->message, "%s", message ? message : "");
	r->approved = csod_now();
	csod_error err;
	int rc = csod_request_transition(d, r, "approved", approver, &err);
	if (rc == -2) {
		/* Approved or declined by another node first. */
		csod_log(LOG_INFO, r->id, "%s", err.msg);
		return -2;
	}
	if (rc < 0) {
		/* A full database: the approval is recorded once there is room. */
		csod_space_wait_approval(d, r->id, approver, r->message, err.msg);
		return -1;
	}
	csod_space_done(d, CSOD_WAIT_APPROVE, r->id, NULL, NULL);
	csod_dispatch(d, r->id);
	return 0;
}

static void finish(csod_daemon *d, csod_sign_job *job)
{
	csod_request r;
	csod_space_release(d, job->need);
	if (csod_request_load(d->db, job->id, &r) != 0) {
		csod_request_free(&r);
		return;
	}
	/* Which TSA answered, which did not, a signature left without one. */
	for (int i = 0; i < job->n_notes; i++)
		csod_audit_at(d->db, job->note_levels[i] <= LOG_WARNING ? LOG_WARNING : LOG_NOTICE,
		              "csodd", "request.timestamp", r.id, "%s", job->notes[i]);
	if (job->failed && job->no_space && wait_for_room(d, r.id, job->err.msg)) {
		/* Nothing was published; the request is signed again once the
		 * spool has room. */
		csod_request_free(&r);
		return;
	}
	if (job->failed) {
		char reason[sizeof job->err.msg + 64];
		snprintf(reason, sizeof reason, "%s%s",
		         job->no_space ? "the spool ran out of space too often: " : "",
		         job->err.msg);
		fail_request(d, &r, reason);
		csod_request_free(&r);
		return;
	}
	for (int i = 0; i < r.n_files && i < job->n_files; i++) {
		snprintf(r.files[i].engine, sizeof r.files[i].engine, "%s", job->files[i].engine);
		snprintf(r.files[i].output, sizeof r.files[i].output, "%s", job->files[i].output);
	}
	r.signed_at = csod_now();
	r.expires = r.signed_at + d->cfg->retention_s;
	csod_error err;
	/* The notice is queued with the state: once signed is committed, the
	 * originals can go. */
	int rc = csod_request_transition_mail(d, &r, "signed", "csodd", "signed", &err);
	if (rc == -2) {
		/* This node's lease ran out while it signed (a long pause) and
		 * another node signed it: its outputs, published under the same
		 * names, are the ones recorded; nothing is taken back. */
		csod_log(LOG_WARNING, r.id, "%s", err.msg);
	} else if (rc < 0) {
		/* Not recorded (a full database): take the outputs back, so that
		 * the outbox never shows signed files of a request that is not
		 * signed, and sign again once there is room. */
		csod_sign_job_unpublish(job);
		if (!wait_for_room(d, r.id, err.msg))
			fail_request(d, &r, err.msg);
	} else {
		csod_space_done(d, CSOD_WAIT_SIGN, r.id, NULL, NULL);
		remove_store(d, r.id);
	}
	csod_request_free(&r);
}

void csod_dispatch_collect(csod_daemon *d)
{
	csod_sign_job *job;
	while ((job = csod_workers_take_done(d->workers))) {
		d->in_flight--;
		/* Published with the others that finished about now, recorded
		 * when the batch comes back (csod_dispatch_published). */
		csod_sign_batches_add(d, job);
	}
}

void csod_dispatch_published(csod_daemon *d)
{
	csod_sign_batch *b;
	while ((b = csod_sign_batches_take(d))) {
		for (int i = 0; i < b->n; i++)
			finish(d, b->jobs[i]);
		csod_sign_batch_free(b);
	}
}

static void requeue(void *ctx, const char *id)
{
	csod_log(LOG_NOTICE, id, "signing again after a restart");
	csod_dispatch(ctx, id);
}

/* Originals of finished requests whose removal a crash interrupted. Walks
 * the store (small) rather than the requests table (large). */
static void tidy_store(csod_daemon *d)
{
	char dir[PATH_MAX];
	csod_spool_path(d, dir, sizeof dir, "store");
	DIR *dh = opendir(dir);
	if (!dh)
		return;
	struct dirent *e;
	while ((e = readdir(dh))) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "incoming") == 0)
			continue;
		csod_request r;
		int found = csod_request_load(d->db, e->d_name, &r);
		/* Of a cluster, a folder with no request yet may be another node's
		 * intake under way (or its reserved id): only an old one is left
		 * over. */
		struct stat st;
		int orphan = found == 1 && (!d->cfg->node || (fstatat(dirfd(dh), e->d_name, &st,
		                                                      AT_SYMLINK_NOFOLLOW) == 0 &&
		                                              st.st_mtime < csod_now() - 86400));
		int finished = orphan || (found == 0 && strcmp(r.state, "created") != 0 &&
		                          strcmp(r.state, "approved") != 0 &&
		                          strcmp(r.state, "in_progress") != 0);
		csod_request_free(&r);
		if (finished)
			remove_store(d, e->d_name);
	}
	closedir(dh);
}

static void retry_waiting(void *ctx, const char *id)
{
	csod_dispatch(ctx, id);
}

void csod_dispatch_waiting(csod_daemon *d)
{
	csod_requests_in_state(d->db, "approved", retry_waiting, d);
}

void csod_dispatch_recover(csod_daemon *d)
{
	tidy_store(d);
	csod_requests_in_state(d->db, "in_progress", requeue, d);
	csod_requests_in_state(d->db, "approved", requeue, d);
}
