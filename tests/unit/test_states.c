/* The request state machine and the request record: transitions allowed and
 * refused, and a request surviving a round trip through the database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../daemon/request.h"
#include "../../daemon/request_paths.h"
#include "../../daemon/states.h"
#include "../../daemon/views.h"
#include "../../lib/fsutil.h"

static void test_allowed_paths(void **state)
{
	(void)state;
	assert_true(csod_state_allowed("created", "approved"));
	assert_true(csod_state_allowed("approved", "in_progress"));
	assert_true(csod_state_allowed("in_progress", "signed"));
	assert_true(csod_state_allowed("signed", "expired"));
	assert_true(csod_state_allowed("created", "declined"));
	assert_true(csod_state_allowed("created", "failed"));
	assert_true(csod_state_allowed("approved", "failed"));
	assert_true(csod_state_allowed("in_progress", "failed"));
}

static void test_refused_paths(void **state)
{
	(void)state;
	/* No skipping approval, no signing twice, nothing after the end. */
	assert_false(csod_state_allowed("created", "in_progress"));
	assert_false(csod_state_allowed("created", "signed"));
	assert_false(csod_state_allowed("signed", "approved"));
	assert_false(csod_state_allowed("signed", "failed"));
	assert_false(csod_state_allowed("declined", "approved"));
	assert_false(csod_state_allowed("failed", "in_progress"));
	assert_false(csod_state_allowed("expired", "signed"));
	assert_false(csod_state_allowed("approved", "declined"));
	assert_false(csod_state_allowed("bogus", "approved"));
}

static void test_final_and_known(void **state)
{
	(void)state;
	assert_true(csod_state_final("declined"));
	assert_true(csod_state_final("failed"));
	assert_true(csod_state_final("expired"));
	assert_false(csod_state_final("signed"));
	assert_false(csod_state_final("created"));
	assert_true(csod_state_known("in_progress"));
	assert_false(csod_state_known("approve"));
}

typedef struct fixture {
	char dir[64];
	csod_daemon d;
	csod_config cfg;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/csod-states.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	csod_error err;
	assert_int_equal(csod_spool_prepare(f->dir, &err), 0);
	snprintf(f->d.spool, sizeof f->d.spool, "%s", f->dir);
	char db[PATH_MAX];
	/* The spool no longer makes state/ (the database lives in state_dir). */
	snprintf(db, sizeof db, "%s/state", f->dir);
	assert_int_equal(csod_mkdir_p(db, 0700, &err), 0);
	snprintf(db, sizeof db, "%s/state/csod.db", f->dir);
	f->d.db = csod_db_open(db, 0, &err);
	assert_non_null(f->d.db);
	f->cfg.spool = f->dir; /* paths shown in views are under it (no share_path) */
	f->d.cfg = &f->cfg;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	csod_db_close(f->d.db);
	csod_rm_rf(f->dir);
	free(f);
	return 0;
}

static void new_request(csod_request *r)
{
	memset(r, 0, sizeof *r);
	csod_request_new_id(r->id);
	snprintf(r->developer, sizeof r->developer, "dagwood");
	snprintf(r->organization, sizeof r->organization, "Dithers");
	snprintf(r->digests, sizeof r->digests, "sha256,sha1");
	snprintf(r->state, sizeof r->state, "created");
	snprintf(r->drop_name, sizeof r->drop_name, "app.exe");
	r->created = r->updated = csod_now();
	r->n_files = 1;
	r->files = calloc(1, sizeof *r->files);
	snprintf(r->files[0].name, sizeof r->files[0].name, "app.exe");
	r->files[0].size = 1234;
	snprintf(r->files[0].sha256, sizeof r->files[0].sha256, "%064d", 7);
}

static void test_round_trip_and_transitions(void **state)
{
	fixture *f = *state;
	csod_request r, back;
	new_request(&r);
	csod_error err;
	assert_int_equal(csod_request_insert(f->d.db, &r, NULL, &err), 0);
	assert_int_equal(csod_request_load(f->d.db, r.id, &back), 0);
	assert_string_equal(back.developer, "dagwood");
	assert_string_equal(back.digests, "sha256,sha1");
	assert_int_equal(back.n_files, 1);
	assert_int_equal(back.files[0].size, 1234);
	assert_string_equal(back.files[0].sha256, r.files[0].sha256);
	csod_request_free(&back);

	/* A refused transition changes nothing. */
	assert_int_equal(csod_request_transition(&f->d, &r, "signed", "test", &err), -1);
	assert_non_null(strstr(err.msg, "cannot go from created to signed"));
	assert_int_equal(csod_request_load(f->d.db, r.id, &back), 0);
	assert_string_equal(back.state, "created");
	csod_request_free(&back);

	assert_int_equal(csod_request_transition(&f->d, &r, "approved", "test", &err), 0);
	assert_int_equal(csod_request_transition(&f->d, &r, "in_progress", "test", &err), 0);
	assert_int_equal(csod_request_load(f->d.db, r.id, &back), 0);
	assert_string_equal(back.state, "in_progress");
	csod_request_free(&back);

	/* Views are written at the end of the loop's turn (views.h), once,
	 * with the state the request ended in; then they are marked current. */
	char path[PATH_MAX], *text = NULL, folder[256];
	/* The outbox folder is named "<id> <drop>" (request_paths.h). */
	assert_int_equal(csod_request_folder(&r, folder, sizeof folder), 0);
	snprintf(path, sizeof path, "%s/outbox/dagwood/%s/STATUS", f->dir, folder);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(f->d.views.n, 1);
	csod_views_flush(&f->d);
	assert_int_equal(f->d.views.n, 0);
	assert_int_equal(csod_read_file(path, 64, &text, NULL, &err), 0);
	assert_string_equal(text, "in_progress\n");
	free(text);
	csod_request_free(&r);
	assert_int_equal(csod_request_load(f->d.db, "no-such-id", &back), 1);
	csod_request_free(&back);
	csod_stmt *st = csod_db_prepare(
	    f->d.db, "SELECT count(*) FROM requests WHERE published IS NOT state", NULL);
	assert_non_null(st);
	assert_int_equal(csod_db_step(st), CSOD_DB_ROW);
	assert_int_equal(csod_db_column_int(st, 0), 0);
	csod_db_finalize(st);
	csod_views_stop(&f->d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_allowed_paths),
	    cmocka_unit_test(test_refused_paths),
	    cmocka_unit_test(test_final_and_known),
	    cmocka_unit_test_setup_teardown(test_round_trip_and_transitions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
