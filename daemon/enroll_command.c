/* The command backend's orders, asynchronously: the loop hands the CSR to
 * ca_command_jobs and goes on; the answer comes back through an eventfd and
 * is checked and recorded here, on the loop thread. An order stays
 * `requested` meanwhile. One found requested at start (csodd was stopped or
 * crashed while its command ran) is run again, same key and CSR. */
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "ca_external.h"
#include "pki_internal.h"

/* An order of the command backend has a number starting with 'C'. */
#define COMMAND_ORDERS "substr(order_no, 1, 1) = 'C'"

int csod_enroll_command_submit(csod_pki *pki, int64_t id, const char *order_no, const char *csr,
                               const char *email, csod_error *err)
{
	const csod_ca_config *ca = &pki->cfg->ca;
	if (csod_ca_jobs_submit(pki->ca_jobs, id, order_no, ca->command, csr, email,
	                        ca->command_timeout_s) < 0)
		return csod_fail(err, "cannot start ca.command: out of memory");
	csod_log(LOG_INFO, NULL, "certificate order %s: ca.command started", order_no);
	return 0;
}

void csod_enroll_command_resume(csod_pki *pki)
{
	if (pki->resumed || strcmp(pki->cfg->ca.backend, "command") != 0 || !pki->cfg->ca.command)
		return;
	pki->resumed = 1;
	csod_stmt *st =
	    csod_db_prepare(pki->db,
	                    "SELECT id, order_no, csr_pem, COALESCE(email, '') FROM "
	                    "certificates WHERE is_ca = 0 AND state = 'requested' "
	                    "AND csr_pem IS NOT NULL AND " COMMAND_ORDERS " ORDER BY id",
	                    NULL);
	while (st && csod_db_step(st) == CSOD_DB_ROW) {
		int64_t id = csod_db_column_int64(st, 0);
		const char *order_no = csod_db_text(st, 1);
		csod_error err;
		csod_log(LOG_NOTICE, NULL,
		         "certificate order %s was requested when csodd last stopped; running "
		         "ca.command again",
		         order_no);
		if (csod_enroll_command_submit(pki, id, order_no, csod_db_text(st, 2),
		                               csod_db_text(st, 3), &err) < 0)
			csod_order_failed(pki, id, err.msg);
	}
	csod_db_finalize(st);
}

/* An answer counts only for an order still waiting for it: an
 * administrator may have revoked or deleted it meanwhile. */
static int still_requested(csod_pki *pki, int64_t id)
{
	csod_stmt *st = csod_db_prepare(
	    pki->db, "SELECT 1 FROM certificates WHERE id = ? AND state = 'requested'", NULL);
	if (!st)
		return 0;
	csod_db_bind_int64(st, 1, id);
	int found = csod_db_step(st) == CSOD_DB_ROW;
	csod_db_finalize(st);
	return found;
}

static void record_answer(csod_pki *pki, const csod_ca_job *job)
{
	if (!still_requested(pki, job->order_id)) {
		csod_log(LOG_WARNING, NULL,
		         "certificate order %s: ca.command answered, but the order is no longer "
		         "requested; answer ignored",
		         job->order_no);
		return;
	}
	csod_error err = job->err;
	STACK_OF(X509) *chain = NULL;
	X509 *cert = job->rc == 0 ? csod_ca_accept((const unsigned char *)job->answer,
	                                           job->answer_len, job->csr, &chain, &err)
	                          : NULL;
	if (!cert || csod_order_issued(pki, job->order_id, cert, chain, "ca.command") < 0)
		csod_order_failed(pki, job->order_id,
		                  cert         ? "database: cannot record the certificate"
		                  : err.msg[0] ? err.msg
		                               : "ca.command failed");
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
}

int csod_pki_fd(const csod_pki *pki)
{
	return csod_ca_jobs_fd(pki->ca_jobs);
}

void csod_pki_take_answers(csod_pki *pki)
{
	csod_ca_job *job;
	while ((job = csod_ca_jobs_take(pki->ca_jobs))) {
		record_answer(pki, job);
		csod_ca_job_free(job);
	}
}
