/* A signing request: its database record, its state transitions and the
 * files that show it to people (outbox STATUS, request.json, ERROR;
 * requests/<id>/details.json for approvers). */
#ifndef CSOD_REQUEST_H
#define CSOD_REQUEST_H

#include <stdint.h>

#include "daemon.h"
#include "details_inner.h"
#include "request_files.h"

#define CSOD_MESSAGE_MAX 4096
#define CSOD_OUTPUTS_MAX 4096

typedef struct csod_file {
	char name[256];
	int64_t size;
	char md5[33], sha1[41], sha256[65];
	char engine[16];
	/* The signed output's name in the outbox; "" until signed. A file
	 * that splits (a hash file listing several files) has one per part,
	 * newline-separated (outputs.h): they fit, as each is shorter than
	 * its line in a digest file of at most 4096 bytes. */
	char output[CSOD_OUTPUTS_MAX];
} csod_file;

/* Options a request.conf may set beyond the table's columns. */
typedef struct csod_request_options {
	int append;        /* keep existing signatures, add ours */
	int msi_dse;       /* MSI: add MsiDigitalSignatureEx */
	int detached;      /* also publish each signature alone, <output>.sig */
	int deep;          /* sign the files inside a JAR/CAB first (deep_container.h) */
	int digests_given; /* request.conf set digests (not the developer's default) */
	int min_sdk;
	int timestamp_legacy; /* timestamp_protocol = "authenticode" */
	char description[256];
	char url[256];
	/* Which of organization (1) and department (2) request.conf named, for
	 * intake to pick the developer's place (not stored). */
	int place_given;
} csod_request_options;

/* What one pre-sign check (checks.h) said of a request's store copy. */
#define CSOD_CHECKS_MAX 2
typedef struct csod_check_verdict {
	char check[16];   /* "clamav" | "policy" */
	char verdict[8];  /* "pass" | "fail" | "hold" | "error" (could not run) */
	char reason[400]; /* one line, escaped */
	int64_t at;
} csod_check_verdict;

typedef struct csod_request {
	char id[32];
	char developer[65];
	char organization[256];
	char department[256];
	char version[128];
	char service[32];  /* "" = by extension, per file */
	char digests[128]; /* comma-separated */
	char state[16];
	char drop_name[256];
	char approver[65];
	char message[CSOD_MESSAGE_MAX + 1];
	char error[512];
	int64_t created, updated, approved, signed_at, expires, certificate_id;
	csod_request_options options;
	/* The pre-sign checks: "" none were configured at intake, "pending",
	 * or the summary of the verdicts: "pass", "fail", "hold". */
	char checks[8];
	csod_check_verdict verdicts[CSOD_CHECKS_MAX];
	int n_verdicts;
	csod_file *files;
	int n_files;
} csod_request;

/* 0 loaded, 1 no such request, -1 database error. */
int csod_request_load(csod_db *db, const char *id, csod_request *out);
void csod_request_free(csod_request *r);

struct csod_notice;

/* Inserts a new request with its files and queues mail (notify.h; may be
 * NULL): one transaction, or part of the caller's when one is open. */
int csod_request_insert(csod_db *db, const csod_request *r, const struct csod_notice *mail,
                        csod_error *err);

/* Saves the mutable part of r (state, approver, message, error, times,
 * file outputs) without side effects; csod_request_transition uses it. */
int csod_request_update(csod_db *db, const csod_request *r, csod_error *err);
/* The same while the request is still in state from: -2 (with err) when
 * it is not, another node having moved it on first. */
int csod_request_update_from(csod_db *db, const csod_request *r, const char *from, csod_error *err);

/* Moves r to state (updating the fields r carries: approver, message, error,
 * times, outputs), records it in the database and the audit log (actor is
 * who caused it); the outbox's STATUS and request.json (and ERROR for
 * failed) are rewritten at the end of the loop's turn (views.h). -2 when
 * another node moved the request on first (nothing written), -1 on other
 * failures. */
int csod_request_transition(csod_daemon *d, csod_request *r, const char *state, const char *actor,
                            csod_error *err);
/* The same, and the mail of kind notice (notify.h) that announces the new
 * state, queued in the same transaction: both are committed or neither. */
int csod_request_transition_mail(csod_daemon *d, csod_request *r, const char *state,
                                 const char *actor, const char *notice, csod_error *err);

/* What people see of a request, rendered on the loop thread and written
 * on any: outbox/<dev>/<id>/{request.json,ERROR,STATUS} and
 * requests/<id>/details.json for approvers. */
typedef struct csod_view {
	char id[32];
	char state[24]; /* STATUS's text, with its newline */
	char outbox_dir[PATH_MAX];
	char details_dir[PATH_MAX];
	char tmp_dir[PATH_MAX];
	char *request_json, *details_json, *error; /* error: failed requests only */
	csod_files_view files;                     /* requests/<id>/files/ */
	csod_details_inner inner;                  /* ZIP drops' inner files, listed when written */
} csod_view;

int csod_view_render(const csod_daemon *d, const csod_request *r, csod_view *v, csod_error *err);
/* Writes n views as one group (view_write.c, group_sync.h): each file in
 * tmp/, all of them made durable at once, then renamed (STATUS last in
 * each outbox folder); rc[i] and err[i] say how view i went. */
void csod_views_write_group(const csod_view *v, int n, int *rc, csod_error *err);
void csod_view_clear(csod_view *v);

/* request.json as a malloc'd string; NULL when it cannot be built. A value
 * that is not UTF-8 is shown escaped and named in note (may be NULL). */
char *csod_request_json(const csod_daemon *d, const csod_request *r, csod_error *note);

/* Ids of requests in a state, oldest first (for recovery and dispatch);
 * calls fn for each. */
int csod_requests_in_state(csod_db *db, const char *state, void (*fn)(void *ctx, const char *id),
                           void *ctx);

/* A new id: YYYYMMDD-HHMMSS-xxxx (UTC, then 4 random base32 letters):
 * short enough to type into a marker name, sorted by creation time. */
void csod_request_new_id(char out[32]);

/* ISO 8601 UTC for an epoch time; "" for 0. */
void csod_iso_time(int64_t t, char out[32]);

#endif
