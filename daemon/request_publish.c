/* What people see of a request: STATUS, request.json and ERROR in the
 * outbox, details.json for approvers. Every file is written in tmp/ and
 * renamed into place, so a reader never sees half of one. */
#include "request.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "spool_access.h"
#include "../lib/log.h"
#include "../lib/text.h"
#include "audit.h"
#include "mail.h"
#include "notify.h"
#include "states.h"
#include "views.h"
#include "outputs.h"
#include "request_paths.h"

/* A view's JSON under construction. A value that is not UTF-8 (only a
 * request recorded before intake refused such values can hold one) is
 * shown escaped and named in note, so that the view is still written and
 * the problem reported; any other failure fails the view. Never is a value
 * silently left out, as jansson does with a string it refuses. */
typedef struct view_json {
	csod_error *note; /* may be NULL */
	int failed;
} view_json;

static json_t *checked(view_json *vj, json_t *value)
{
	if (!value)
		vj->failed = 1;
	return value;
}

static json_t *str(view_json *vj, const char *field, const char *s)
{
	if (csod_utf8_valid(s, strlen(s)))
		return checked(vj, json_string(s));
	if (vj->note && !vj->note->msg[0])
		csod_fail(vj->note, "%s is not valid UTF-8 (shown escaped)", field);
	char *shown = csod_escape(s);
	json_t *value = shown ? json_string(shown) : NULL;
	free(shown);
	return checked(vj, value);
}

static json_t *text(view_json *vj, const char *field, const char *s)
{
	return s && *s ? str(vj, field, s) : json_null();
}

static json_t *time_value(view_json *vj, int64_t t)
{
	char iso[32];
	csod_iso_time(t, iso);
	return t ? str(vj, "time", iso) : json_null();
}

static void set(view_json *vj, json_t *o, const char *key, json_t *value)
{
	if (!o || !value || json_object_set_new(o, key, value) < 0)
		vj->failed = 1;
}

static void append(view_json *vj, json_t *a, json_t *value)
{
	if (!a || !value || json_array_append_new(a, value) < 0)
		vj->failed = 1;
}

static json_t *digest_list(view_json *vj, const char *digests)
{
	json_t *arr = checked(vj, json_array());
	char buf[128];
	snprintf(buf, sizeof buf, "%s", digests);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		append(vj, arr, str(vj, "digests", tok));
	return arr;
}

/* A file's signed output: its name, or for a file that split (a list of
 * digests) the array of its parts' names, in the order of its lines. */
static json_t *outputs_json(view_json *vj, const char *list)
{
	if (!strchr(list, '\n'))
		return text(vj, "a signed file's name", list);
	json_t *names = checked(vj, json_array());
	const char *pos = list;
	char name[256];
	while (csod_outputs_next(&pos, name, sizeof name))
		append(vj, names, str(vj, "a signed file's name", name));
	return names;
}

static json_t *files_json(view_json *vj, const csod_request *r, int for_approvers)
{
	json_t *files = checked(vj, json_array());
	for (int i = 0; i < r->n_files; i++) {
		const csod_file *f = &r->files[i];
		json_t *o = checked(vj, json_object());
		set(vj, o, "name", str(vj, "a file name", f->name));
		set(vj, o, "size", checked(vj, json_integer((json_int_t)f->size)));
		set(vj, o, "md5", text(vj, "md5", f->md5));
		set(vj, o, "sha1", text(vj, "sha1", f->sha1));
		set(vj, o, "sha256", text(vj, "sha256", f->sha256));
		if (!for_approvers) {
			set(vj, o, "engine", text(vj, "engine", f->engine));
			set(vj, o, "signed", outputs_json(vj, f->output));
		}
		append(vj, files, o);
	}
	return files;
}

/* The pre-sign checks (checks.h): null when none were configured, else
 * their summary and each check's verdict. */
static json_t *checks_json(view_json *vj, const csod_request *r)
{
	if (!r->checks[0])
		return json_null();
	json_t *o = checked(vj, json_object()), *results = checked(vj, json_array());
	set(vj, o, "state", str(vj, "checks", r->checks));
	for (int i = 0; i < r->n_verdicts; i++) {
		const csod_check_verdict *v = &r->verdicts[i];
		json_t *one = checked(vj, json_object());
		set(vj, one, "check", str(vj, "check", v->check));
		set(vj, one, "verdict", str(vj, "verdict", v->verdict));
		set(vj, one, "reason", str(vj, "a check's reason", v->reason));
		set(vj, one, "time", time_value(vj, v->at));
		append(vj, results, one);
	}
	set(vj, o, "results", results);
	return o;
}

/* The text of j (consumed), or NULL when it could not be built. */
static char *dump(view_json *vj, json_t *j)
{
	char *text = vj->failed ? NULL : json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	return text;
}

/* What both views say of the request, in this order. */
static void set_common(view_json *vj, json_t *j, const csod_request *r)
{
	set(vj, j, "developer", str(vj, "developer", r->developer));
	set(vj, j, "organization", text(vj, "organization", r->organization));
	set(vj, j, "department", text(vj, "department", r->department));
	set(vj, j, "version", text(vj, "version", r->version));
	set(vj, j, "service", text(vj, "service", r->service));
	set(vj, j, "digests", digest_list(vj, r->digests));
}

char *csod_request_json(const csod_daemon *d, const csod_request *r, csod_error *note)
{
	view_json vj = {note, 0};
	/* As the developer reaches it (share_path), not the server's path. */
	char outbox[PATH_MAX];
	csod_request_outbox_shown(d->cfg, d->spool, r, outbox, sizeof outbox);
	json_t *j = checked(&vj, json_object());
	set(&vj, j, "id", str(&vj, "id", r->id));
	set(&vj, j, "state", str(&vj, "state", r->state));
	set_common(&vj, j, r);
	set(&vj, j, "drop", str(&vj, "drop", r->drop_name));
	set(&vj, j, "files", files_json(&vj, r, 0));
	set(&vj, j, "created", time_value(&vj, r->created));
	set(&vj, j, "updated", time_value(&vj, r->updated));
	set(&vj, j, "approved", time_value(&vj, r->approved));
	set(&vj, j, "approver", text(&vj, "approver", r->approver));
	set(&vj, j, "message", text(&vj, "message", r->message));
	set(&vj, j, "error", text(&vj, "error", r->error));
	set(&vj, j, "checks", checks_json(&vj, r));
	set(&vj, j, "signed", time_value(&vj, r->signed_at));
	set(&vj, j, "expires", time_value(&vj, r->expires));
	set(&vj, j, "outbox", str(&vj, "outbox", outbox));
	return dump(&vj, j);
}

static char *details_json(const csod_daemon *d, const csod_request *r, csod_error *note)
{
	view_json vj = {note, 0};
	char marker[64], approve[PATH_MAX];
	snprintf(marker, sizeof marker, "approvals/%s.approve", r->id);
	csod_shared_path(d->cfg, marker, approve, sizeof approve);
	json_t *j = checked(&vj, json_object());
	set(&vj, j, "id", str(&vj, "id", r->id));
	set_common(&vj, j, r);
	set(&vj, j, "created", time_value(&vj, r->created));
	set(&vj, j, "files", files_json(&vj, r, 1));
	set(&vj, j, "state", str(&vj, "state", r->state));
	set(&vj, j, "checks", checks_json(&vj, r));
	set(&vj, j, "approve_marker", str(&vj, "approve_marker", approve));
	return dump(&vj, j);
}

/* While it waits for approval, which of r's files are ZIP drops or deep
 * containers to list the inside of (details_inner.h). */
static int inner_render(const csod_daemon *d, const csod_request *r, csod_details_inner *di)
{
	memset(di, 0, sizeof *di);
	if (strcmp(r->state, "created") != 0)
		return 0;
	for (int i = 0; i < r->n_files; i++) {
		if (!csod_details_inner_lists(r->files[i].engine, r->options.deep))
			continue;
		if (!di->names && !(di->names = calloc((size_t)r->n_files, sizeof *di->names)))
			return -1;
		snprintf(di->names[di->n_names++], sizeof di->names[0], "%s", r->files[i].name);
	}
	di->max_size = d->cfg->max_file_size;
	if (di->n_names &&
	    csod_spool_path(d, di->store_dir, sizeof di->store_dir, "store/%s", r->id) < 0)
		di->n_names = 0;
	return 0;
}

int csod_view_render(const csod_daemon *d, const csod_request *r, csod_view *v, csod_error *err)
{
	memset(v, 0, sizeof *v);
	snprintf(v->id, sizeof v->id, "%s", r->id);
	snprintf(v->state, sizeof v->state, "%s\n", r->state);
	if (csod_request_outbox(d->spool, r, v->outbox_dir, sizeof v->outbox_dir) < 0 ||
	    csod_spool_path(d, v->details_dir, sizeof v->details_dir, "requests/%s", r->id) < 0)
		return csod_fail(err, "outbox path too long");
	csod_spool_path(d, v->tmp_dir, sizeof v->tmp_dir, "%s", d->tmp_rel);
	csod_error note = {.msg = ""};
	v->request_json = csod_request_json(d, r, &note);
	v->details_json = details_json(d, r, &note);
	if (note.msg[0])
		csod_log(LOG_ERR, r->id, "request.json, details.json: %s", note.msg);
	/* ERROR: why a request failed, or why the pre-sign checks declined it. */
	int has_error =
	    strcmp(r->state, "failed") == 0 || (strcmp(r->state, "declined") == 0 && r->error[0]);
	if (has_error) {
		/* A text view: the reason may quote what a developer named. */
		char *shown = csod_escape(r->error);
		size_t len = shown ? strlen(shown) + 2 : 0;
		if (shown && (v->error = malloc(len)))
			snprintf(v->error, len, "%s\n", shown);
		free(shown);
	}
	int files = csod_files_view_render(d, r, &v->files, err);
	if (files == 0 && inner_render(d, r, &v->inner) < 0)
		files = csod_fail(err, "out of memory");
	if (files < 0 || !v->request_json || !v->details_json || (has_error && !v->error)) {
		if (files == 0)
			csod_fail(err, "cannot build %s",
			          !v->request_json   ? "request.json"
			          : !v->details_json ? "details.json"
			                             : "ERROR");
		csod_view_clear(v);
		return -1;
	}
	return 0;
}

void csod_view_clear(csod_view *v)
{
	free(v->request_json);
	free(v->details_json);
	free(v->error);
	v->request_json = v->details_json = v->error = NULL;
	csod_files_view_clear(&v->files);
	csod_details_inner_clear(&v->inner);
}

int csod_request_transition(csod_daemon *d, csod_request *r, const char *state, const char *actor,
                            csod_error *err)
{
	return csod_request_transition_mail(d, r, state, actor, NULL, err);
}

int csod_request_transition_mail(csod_daemon *d, csod_request *r, const char *state,
                                 const char *actor, const char *notice, csod_error *err)
{
	char from[16];
	snprintf(from, sizeof from, "%s", r->state);
	if (!csod_state_allowed(from, state))
		return csod_fail(err, "request %s cannot go from %s to %s", r->id, from, state);
	int64_t updated = r->updated;
	snprintf(r->state, sizeof r->state, "%s", state);
	r->updated = csod_now();
	/* Rendered before the transaction: templates are files. */
	csod_notice *mail = notice ? csod_notice_build(d, r, notice) : NULL;
	/* Only from the state this node saw: of two nodes moving a request on
	 * at once (cluster.h), the second changes nothing and gets -2. */
	int rc = csod_db_begin(d->db) < 0 ? csod_fail(err, "database: %s", csod_db_errmsg(d->db))
	                                  : csod_request_update_from(d->db, r, from, err);
	/* The change, the mail that announces it and its audit row are one
	 * transaction: no state change goes unaudited or unannounced, on a full
	 * disk none is kept. */
	if (rc == 0)
		rc = csod_notice_queue(d->db, mail, err);
	int failed = strcmp(state, "failed") == 0;
	if (rc == 0 && csod_audit_at(d->db, failed ? LOG_WARNING : LOG_NOTICE, actor,
	                             "request.state", r->id, "%s -> %s%s%s", from, state,
	                             r->error[0] && failed ? ": " : "", failed ? r->error : "") < 0)
		rc = csod_fail(err, "database: cannot audit the change (the log says why)");
	if (rc == 0 && csod_db_commit(d->db) < 0)
		rc = csod_fail(err, "database: %s", csod_db_errmsg(d->db));
	if (rc < 0) {
		/* The caller still holds the state the database holds. */
		csod_db_rollback(d->db);
		snprintf(r->state, sizeof r->state, "%s", from);
		r->updated = updated;
		csod_notice_free(mail);
		return rc == -2 ? -2 : -1;
	}
	csod_views_mark(d, r->id);
	if (csod_notice_count(mail) > 0 && d->mailer)
		csod_mailer_wake(d->mailer);
	csod_notice_free(mail);
	return 0;
}
