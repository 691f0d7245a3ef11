/* Requests and their files in the database. */
#include "request.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "check_verdicts.h"
#include "notify.h"

static void col(csod_stmt *st, int i, char *out, size_t len)
{
	const char *s = csod_db_text(st, i);
	snprintf(out, len, "%s", s ? s : "");
}

static void options_from_json(const char *text, csod_request_options *o)
{
	memset(o, 0, sizeof *o);
	if (!text || !*text)
		return;
	json_t *j = json_loads(text, 0, NULL);
	if (!j)
		return;
	o->append = json_is_true(json_object_get(j, "append"));
	o->msi_dse = json_is_true(json_object_get(j, "msi_dse"));
	o->digests_given = json_is_true(json_object_get(j, "digests_given"));
	o->min_sdk = (int)json_integer_value(json_object_get(j, "min_sdk"));
	o->timestamp_legacy = json_is_true(json_object_get(j, "timestamp_legacy"));
	o->detached = json_is_true(json_object_get(j, "detached"));
	o->deep = json_is_true(json_object_get(j, "deep"));
	const char *s = json_string_value(json_object_get(j, "description"));
	snprintf(o->description, sizeof o->description, "%s", s ? s : "");
	s = json_string_value(json_object_get(j, "url"));
	snprintf(o->url, sizeof o->url, "%s", s ? s : "");
	json_decref(j);
}

static char *options_to_json(const csod_request_options *o)
{
	json_t *j = json_pack("{s:b, s:b, s:b, s:i, s:s, s:s}", "append", o->append, "msi_dse",
	                      o->msi_dse, "digests_given", o->digests_given, "min_sdk", o->min_sdk,
	                      "description", o->description, "url", o->url);
	/* Only when set: rows written before the option existed read the same. */
	if (j && o->timestamp_legacy)
		json_object_set_new(j, "timestamp_legacy", json_true());
	if (j && o->detached)
		json_object_set_new(j, "detached", json_true());
	if (j && o->deep)
		json_object_set_new(j, "deep", json_true());
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

#define REQUEST_COLUMNS                                                                            \
	"id, developer, organization, department, version, service, digests, options, state, "     \
	"created, updated, approved, approver, message, error, signed, expires, certificate_id, "  \
	"drop_name, checks, check_results"

int csod_request_load(csod_db *db, const char *id, csod_request *r)
{
	memset(r, 0, sizeof *r);
	csod_stmt *st =
	    csod_db_cached(db, "SELECT " REQUEST_COLUMNS " FROM requests WHERE id = ?", NULL);
	if (!st)
		return -1;
	csod_db_bind_text(st, 1, id);
	int rc = csod_db_step(st);
	if (rc != CSOD_DB_ROW) {
		csod_db_release(st);
		return rc == CSOD_DB_DONE ? 1 : -1;
	}
	col(st, 0, r->id, sizeof r->id);
	col(st, 1, r->developer, sizeof r->developer);
	col(st, 2, r->organization, sizeof r->organization);
	col(st, 3, r->department, sizeof r->department);
	col(st, 4, r->version, sizeof r->version);
	col(st, 5, r->service, sizeof r->service);
	col(st, 6, r->digests, sizeof r->digests);
	options_from_json(csod_db_text(st, 7), &r->options);
	col(st, 8, r->state, sizeof r->state);
	r->created = csod_db_column_int64(st, 9);
	r->updated = csod_db_column_int64(st, 10);
	r->approved = csod_db_column_int64(st, 11);
	col(st, 12, r->approver, sizeof r->approver);
	col(st, 13, r->message, sizeof r->message);
	col(st, 14, r->error, sizeof r->error);
	r->signed_at = csod_db_column_int64(st, 15);
	r->expires = csod_db_column_int64(st, 16);
	r->certificate_id = csod_db_column_int64(st, 17);
	col(st, 18, r->drop_name, sizeof r->drop_name);
	col(st, 19, r->checks, sizeof r->checks);
	csod_verdicts_from_json(csod_db_text(st, 20), r);
	csod_db_release(st);

	st = csod_db_cached(db,
	                    "SELECT name, size, md5, sha1, sha256, engine, output FROM files "
	                    "WHERE request_id = ? ORDER BY idx",
	                    NULL);
	if (!st)
		return -1;
	csod_db_bind_text(st, 1, id);
	while (csod_db_step(st) == CSOD_DB_ROW) {
		csod_file *grown = realloc(r->files, sizeof *grown * (size_t)(r->n_files + 1));
		if (!grown) {
			csod_db_release(st);
			return -1;
		}
		r->files = grown;
		csod_file *f = &r->files[r->n_files++];
		memset(f, 0, sizeof *f);
		col(st, 0, f->name, sizeof f->name);
		f->size = csod_db_column_int64(st, 1);
		col(st, 2, f->md5, sizeof f->md5);
		col(st, 3, f->sha1, sizeof f->sha1);
		col(st, 4, f->sha256, sizeof f->sha256);
		col(st, 5, f->engine, sizeof f->engine);
		col(st, 6, f->output, sizeof f->output);
	}
	csod_db_release(st);
	return 0;
}

void csod_request_free(csod_request *r)
{
	free(r->files);
	r->files = NULL;
	r->n_files = 0;
}

static void bind_nonempty(csod_stmt *st, int i, const char *s)
{
	if (s && *s)
		csod_db_bind_text(st, i, s);
	else
		csod_db_bind_null(st, i);
}

static void bind_time(csod_stmt *st, int i, int64_t t)
{
	if (t)
		csod_db_bind_int64(st, i, t);
	else
		csod_db_bind_null(st, i);
}

static int save_files(csod_db *db, const csod_request *r, csod_error *err)
{
	csod_stmt *st = csod_db_cached(
	    db,
	    "INSERT INTO files(request_id, idx, name, size, md5, sha1, sha256, engine, output) "
	    "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(request_id, idx) DO UPDATE SET "
	    "name = excluded.name, size = excluded.size, md5 = excluded.md5, sha1 = excluded.sha1, "
	    "sha256 = excluded.sha256, engine = excluded.engine, output = excluded.output",
	    err);
	if (!st)
		return -1;
	int rc = 0;
	for (int i = 0; i < r->n_files && rc == 0; i++) {
		const csod_file *f = &r->files[i];
		csod_db_bind_text(st, 1, r->id);
		csod_db_bind_int(st, 2, i);
		csod_db_bind_text(st, 3, f->name);
		csod_db_bind_int64(st, 4, f->size);
		bind_nonempty(st, 5, f->md5);
		bind_nonempty(st, 6, f->sha1);
		bind_nonempty(st, 7, f->sha256);
		bind_nonempty(st, 8, f->engine);
		bind_nonempty(st, 9, f->output);
		if (csod_db_step(st) != CSOD_DB_DONE)
			rc = csod_fail(err, "database: %s", csod_db_errmsg(db));
		csod_db_reset(st);
	}
	csod_db_release(st);
	return rc;
}

int csod_request_insert(csod_db *db, const csod_request *r, const struct csod_notice *mail,
                        csod_error *err)
{
	/* Inside the caller's transaction when one is open (the intake records
	 * an auto-approval with it): then committing is the caller's. */
	int own = !csod_db_in_transaction(db);
	if (own && csod_db_begin(db) < 0)
		return csod_fail(err, "database: %s", csod_db_errmsg(db));
	csod_stmt *st = csod_db_cached(db,
	                               "INSERT INTO requests(" REQUEST_COLUMNS ") VALUES(?, ?, ?, "
	                               "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	                               err);
	if (!st) {
		if (own)
			csod_db_rollback(db);
		return -1;
	}
	char *options = options_to_json(&r->options);
	csod_db_bind_text(st, 1, r->id);
	csod_db_bind_text(st, 2, r->developer);
	bind_nonempty(st, 3, r->organization);
	bind_nonempty(st, 4, r->department);
	bind_nonempty(st, 5, r->version);
	bind_nonempty(st, 6, r->service);
	csod_db_bind_text(st, 7, r->digests);
	csod_db_bind_text(st, 8, options);
	csod_db_bind_text(st, 9, r->state);
	csod_db_bind_int64(st, 10, r->created);
	csod_db_bind_int64(st, 11, r->updated);
	bind_time(st, 12, r->approved);
	bind_nonempty(st, 13, r->approver);
	bind_nonempty(st, 14, r->message);
	bind_nonempty(st, 15, r->error);
	bind_time(st, 16, r->signed_at);
	bind_time(st, 17, r->expires);
	bind_time(st, 18, r->certificate_id);
	csod_db_bind_text(st, 19, r->drop_name);
	bind_nonempty(st, 20, r->checks);
	char *verdicts = csod_verdicts_to_json(r);
	bind_nonempty(st, 21, verdicts);
	int rc = csod_db_step(st) == CSOD_DB_DONE
	             ? 0
	             : csod_fail(err, "database: cannot record request %s: %s", r->id,
	                         csod_db_errmsg(db));
	csod_db_release(st);
	free(options);
	free(verdicts);
	if (rc == 0)
		rc = save_files(db, r, err);
	if (rc == 0)
		rc = csod_notice_queue(db, mail, err);
	if (own && rc == 0 && csod_db_commit(db) < 0)
		rc = csod_fail(err, "database: %s", csod_db_errmsg(db));
	if (own && rc < 0)
		csod_db_rollback(db);
	return rc;
}

/* The UPDATE of csod_request_update, only while the row is still in state
 * from when from is given. */
#define REQUEST_UPDATE                                                                             \
	"UPDATE requests SET state = ?, updated = ?, approved = ?, approver = ?, message = ?,"     \
	" error = ?, signed = ?, expires = ?, certificate_id = ?, checks = ?,"                     \
	" check_results = ? WHERE id = ?"

int csod_request_update_from(csod_db *db, const csod_request *r, const char *from, csod_error *err)
{
	csod_stmt *st = from ? csod_db_cached(db, REQUEST_UPDATE " AND state = ?", err)
	                     : csod_db_cached(db, REQUEST_UPDATE, err);
	if (!st)
		return -1;
	char *verdicts = csod_verdicts_to_json(r);
	csod_db_bind_text(st, 1, r->state);
	csod_db_bind_int64(st, 2, r->updated);
	bind_time(st, 3, r->approved);
	bind_nonempty(st, 4, r->approver);
	bind_nonempty(st, 5, r->message);
	bind_nonempty(st, 6, r->error);
	bind_time(st, 7, r->signed_at);
	bind_time(st, 8, r->expires);
	bind_time(st, 9, r->certificate_id);
	bind_nonempty(st, 10, r->checks);
	bind_nonempty(st, 11, verdicts);
	csod_db_bind_text(st, 12, r->id);
	if (from)
		csod_db_bind_text(st, 13, from);
	int rc = csod_db_step(st) == CSOD_DB_DONE
	             ? 0
	             : csod_fail(err, "database: %s", csod_db_errmsg(db));
	/* Another node moved it on first (cluster.h): nothing is written. */
	if (rc == 0 && from && csod_db_changes(db) != 1)
		rc = -2;
	csod_db_release(st);
	free(verdicts);
	if (rc == -2)
		csod_fail(err, "request %s is no longer %s: another node changed it", r->id, from);
	return rc == 0 ? save_files(db, r, err) : rc;
}

int csod_request_update(csod_db *db, const csod_request *r, csod_error *err)
{
	return csod_request_update_from(db, r, NULL, err);
}

int csod_requests_in_state(csod_db *db, const char *state, void (*fn)(void *ctx, const char *id),
                           void *ctx)
{
	csod_stmt *st = csod_db_prepare(
	    db, "SELECT id FROM requests WHERE state = ? ORDER BY created, id", NULL);
	if (!st)
		return -1;
	csod_db_bind_text(st, 1, state);
	/* Collect first: fn may write to the database. */
	char(*ids)[32] = NULL;
	size_t n = 0;
	while (csod_db_step(st) == CSOD_DB_ROW) {
		char(*grown)[32] = realloc(ids, sizeof *ids * (n + 1));
		if (!grown)
			break;
		ids = grown;
		snprintf(ids[n++], 32, "%s", csod_db_text(st, 0));
	}
	csod_db_finalize(st);
	for (size_t i = 0; i < n; i++)
		fn(ctx, ids[i]);
	free(ids);
	return 0;
}

void csod_request_new_id(char out[32])
{
	static const char alphabet[] = "abcdefghjkmnpqrstvwxyz0123456789";
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	unsigned char rnd[4];
	RAND_bytes(rnd, sizeof rnd);
	char stamp[20];
	strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
	snprintf(out, 32, "%s-%c%c%c%c", stamp, alphabet[rnd[0] % 31], alphabet[rnd[1] % 31],
	         alphabet[rnd[2] % 31], alphabet[rnd[3] % 31]);
}

void csod_iso_time(int64_t t, char out[32])
{
	if (!t) {
		out[0] = '\0';
		return;
	}
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
