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
#include "../lib/log.h"
#include "audit.h"
#include "states.h"
#include "views.h"

static json_t *json_time(int64_t t)
{
	char iso[32];
	csod_iso_time(t, iso);
	return t ? json_string(iso) : json_null();
}

static json_t *json_text(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *digest_list(const char *digests)
{
	json_t *arr = json_array();
	char buf[128];
	snprintf(buf, sizeof buf, "%s", digests);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		json_array_append_new(arr, json_string(tok));
	return arr;
}

static json_t *files_json(const csod_request *r, int for_approvers)
{
	json_t *files = json_array();
	for (int i = 0; i < r->n_files; i++) {
		const csod_file *f = &r->files[i];
		json_t *o = json_pack("{s:s, s:I, s:o, s:o, s:o}", "name", f->name, "size",
		                      (json_int_t)f->size, "md5", json_text(f->md5), "sha1",
		                      json_text(f->sha1), "sha256", json_text(f->sha256));
		if (!for_approvers) {
			json_object_set_new(o, "engine", json_text(f->engine));
			json_object_set_new(o, "signed", json_text(f->output));
		}
		json_array_append_new(files, o);
	}
	return files;
}

char *csod_request_json(const csod_daemon *d, const csod_request *r)
{
	char outbox[PATH_MAX];
	csod_spool_path(d, outbox, sizeof outbox, "outbox/%s/%s", r->developer, r->id);
	json_t *j = json_object();
	json_object_set_new(j, "id", json_string(r->id));
	json_object_set_new(j, "state", json_string(r->state));
	json_object_set_new(j, "developer", json_string(r->developer));
	json_object_set_new(j, "organization", json_text(r->organization));
	json_object_set_new(j, "department", json_text(r->department));
	json_object_set_new(j, "version", json_text(r->version));
	json_object_set_new(j, "service", json_text(r->service));
	json_object_set_new(j, "digests", digest_list(r->digests));
	json_object_set_new(j, "drop", json_string(r->drop_name));
	json_object_set_new(j, "files", files_json(r, 0));
	json_object_set_new(j, "created", json_time(r->created));
	json_object_set_new(j, "updated", json_time(r->updated));
	json_object_set_new(j, "approved", json_time(r->approved));
	json_object_set_new(j, "approver", json_text(r->approver));
	json_object_set_new(j, "message", json_text(r->message));
	json_object_set_new(j, "error", json_text(r->error));
	json_object_set_new(j, "signed", json_time(r->signed_at));
	json_object_set_new(j, "expires", json_time(r->expires));
	json_object_set_new(j, "outbox", json_string(outbox));
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	return text;
}

/* Each file is complete (fsynced) before its rename; the directory is
 * synced once for all of them. */
static int write_text(const char *tmp_dir, const char *dir, const char *name, const char *text,
                      csod_error *err)
{
	char path[PATH_MAX];
	if (csod_path(path, sizeof path, "%s/%s", dir, name) < 0)
		return csod_fail(err, "%s/%s: path too long", dir, name);
	return csod_write_file_staged(tmp_dir, path, text, strlen(text), 0644, err);
}

/* The outbox's files of one view, all written before any is renamed into
 * place (STATUS last): a full disk fails the writing and leaves the old
 * view whole, never a new request.json beside an old STATUS. */
static int write_outbox(const csod_view *v, csod_error *err)
{
	const char *names[3] = {"request.json", "ERROR", "STATUS"};
	const char *texts[3] = {v->request_json, v->error, v->state};
	char tmp[3][PATH_MAX] = {"", "", ""};
	int rc = 0;
	for (int i = 0; i < 3 && rc == 0; i++)
		if (texts[i])
			rc = csod_write_tmpfile(v->tmp_dir, texts[i], strlen(texts[i]), 0644,
			                        tmp[i], sizeof tmp[i], err);
	for (int i = 0; i < 3 && rc == 0; i++) {
		char path[PATH_MAX];
		if (!tmp[i][0])
			continue;
		if (csod_path(path, sizeof path, "%s/%s", v->outbox_dir, names[i]) < 0)
			rc = csod_fail(err, "%s/%s: path too long", v->outbox_dir, names[i]);
		else if (rename(tmp[i], path) < 0)
			rc = csod_fail_errno(err, "cannot rename into %s", path);
		else
			tmp[i][0] = '\0';
	}
	for (int i = 0; i < 3; i++)
		if (tmp[i][0])
			unlink(tmp[i]);
	return rc;
}

static char *details_json(const csod_daemon *d, const csod_request *r)
{
	json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s}", "id", r->id,
	                      "developer", r->developer, "organization", json_text(r->organization),
	                      "department", json_text(r->department), "version",
	                      json_text(r->version), "service", json_text(r->service), "digests",
	                      digest_list(r->digests), "created", json_time(r->created), "files",
	                      files_json(r, 1), "state", r->state);
	char approve[PATH_MAX];
	csod_spool_path(d, approve, sizeof approve, "approvals/%s.approve", r->id);
	json_object_set_new(j, "approve_marker", json_string(approve));
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	return text;
}

int csod_view_render(const csod_daemon *d, const csod_request *r, csod_view *v, csod_error *err)
{
	memset(v, 0, sizeof *v);
	snprintf(v->id, sizeof v->id, "%s", r->id);
	snprintf(v->state, sizeof v->state, "%s\n", r->state);
	if (csod_spool_path(d, v->outbox_dir, sizeof v->outbox_dir, "outbox/%s/%s", r->developer,
	                    r->id) < 0 ||
	    csod_spool_path(d, v->details_dir, sizeof v->details_dir, "requests/%s", r->id) < 0)
		return csod_fail(err, "outbox path too long");
	csod_spool_path(d, v->tmp_dir, sizeof v->tmp_dir, "tmp");
	v->request_json = csod_request_json(d, r);
	v->details_json = details_json(d, r);
	if (strcmp(r->state, "failed") == 0) {
		size_t len = strlen(r->error) + 2;
		if ((v->error = malloc(len)))
			snprintf(v->error, len, "%s\n", r->error);
	}
	if (!v->request_json || !v->details_json ||
	    (strcmp(r->state, "failed") == 0 && !v->error)) {
		csod_view_clear(v);
		return csod_fail(err, "cannot build request.json");
	}
	return 0;
}

int csod_view_write(const csod_view *v, csod_error *err)
{
	if (csod_mkdir_p(v->outbox_dir, 0755, err) < 0)
		return -1;
	/* STATUS last: a script that waits for it finds request.json current. */
	int rc = write_outbox(v, err);
	csod_fsync_dir(v->outbox_dir);
	if (rc == 0 && csod_mkdir_p(v->details_dir, 0755, err) < 0)
		rc = -1;
	if (rc == 0) {
		rc = write_text(v->tmp_dir, v->details_dir, "details.json", v->details_json, err);
		csod_fsync_dir(v->details_dir);
	}
	return rc;
}

void csod_view_clear(csod_view *v)
{
	free(v->request_json);
	free(v->details_json);
	free(v->error);
	v->request_json = v->details_json = v->error = NULL;
}

int csod_request_transition(csod_daemon *d, csod_request *r, const char *state, const char *actor,
                            csod_error *err)
{
	char from[16];
	snprintf(from, sizeof from, "%s", r->state);
	if (!csod_state_allowed(from, state))
		return csod_fail(err, "request %s cannot go from %s to %s", r->id, from, state);
	int64_t updated = r->updated;
	snprintf(r->state, sizeof r->state, "%s", state);
	r->updated = csod_now();
	int rc = csod_db_begin(d->db) < 0
	             ? csod_fail(err, "database: %s", sqlite3_errmsg(d->db->sql))
	             : csod_request_update(d->db, r, err);
	/* The change and its audit row are one transaction: no state change
	 * goes unaudited, on a full disk neither is kept. */
	if (rc == 0 && csod_audit(d->db, actor, "request.state", r->id, "%s -> %s%s%s", from, state,
	                          r->error[0] && strcmp(state, "failed") == 0 ? ": " : "",
	                          strcmp(state, "failed") == 0 ? r->error : "") < 0)
		rc = csod_fail(err, "database: cannot audit the change (the log says why)");
	if (rc == 0 && csod_db_commit(d->db) < 0)
		rc = csod_fail(err, "database: %s", sqlite3_errmsg(d->db->sql));
	if (rc < 0) {
		/* The caller still holds the state the database holds. */
		csod_db_rollback(d->db);
		snprintf(r->state, sizeof r->state, "%s", from);
		r->updated = updated;
		return -1;
	}
	csod_log(strcmp(state, "failed") == 0 ? LOG_WARNING : LOG_INFO, r->id, "%s -> %s%s%s", from,
	         state, strcmp(state, "failed") == 0 ? ": " : "",
	         strcmp(state, "failed") == 0 ? r->error : "");
	csod_views_mark(d, r->id);
	return 0;
}
