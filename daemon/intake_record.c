/* Step 4 of an intake (intake.c): recording the new request. */
#include <stdio.h>
#include <string.h>

#include "../lib/log.h"
#include "audit.h"
#include "intake.h"
#include "notify.h"
#include "request.h"

/* The request, its audit row and, when auto-approve decides at once, its
 * approval are one transaction: a crash between recording a request and
 * approving it would leave it created, waiting for an approver nobody asks
 * (a restart cannot tell it from one that waits for a person). */
int csod_intake_record(csod_daemon *d, csod_request *r, const struct csod_notice *mail,
                       int auto_approve, csod_error *err)
{
	int failed = strcmp(r->state, "failed") == 0;
	if (auto_approve) {
		snprintf(r->state, sizeof r->state, "approved");
		snprintf(r->approver, sizeof r->approver, "auto-approve");
		r->approved = csod_now();
	}
	int rc = csod_db_begin(d->db) < 0 ? csod_fail(err, "database: %s", csod_db_errmsg(d->db))
	                                  : csod_request_insert(d->db, r, mail, err);
	if (rc == 0 &&
	    csod_audit_at(d->db, failed ? LOG_WARNING : LOG_NOTICE, "csodd", "request.created",
	                  r->id, "%s/%s: %d file(s)%s%s", r->developer, r->drop_name, r->n_files,
	                  failed ? "; failed: " : "", failed ? r->error : "") < 0)
		rc = csod_fail(err, "database: cannot audit the request (the log says why)");
	/* The row csod_dispatch_approve's transition would have written. */
	if (rc == 0 && auto_approve &&
	    csod_audit_at(d->db, LOG_NOTICE, "auto-approve", "request.state", r->id,
	                  "created -> approved") < 0)
		rc = csod_fail(err, "database: cannot audit the approval (the log says why)");
	if (rc == 0 && csod_db_commit(d->db) < 0)
		rc = csod_fail(err, "database: %s", csod_db_errmsg(d->db));
	if (rc < 0) {
		csod_db_rollback(d->db);
		if (auto_approve) {
			snprintf(r->state, sizeof r->state, "created");
			r->approver[0] = 0;
			r->approved = 0;
		}
	}
	return rc;
}
