/* csodctl's shared state and helpers; one file per group of verbs. */
#ifndef CSODCTL_H
#define CSODCTL_H

#include <jansson.h>
#include <limits.h>
#include <sys/types.h>

#include "../../daemon/config.h"
#include "../../daemon/db.h"

typedef struct ctl {
	csod_config *cfg;
	char spool[PATH_MAX];
	int json;
	uid_t uid;
	char user[64];           /* the caller's Unix user */
	const csod_admin *admin; /* NULL: not an admin */
	int is_root;
	char **shown; /* escaped copies ctl_text made, freed at exit */
	int n_shown;
	int output_error; /* a value or row could not be printed as it is: exit 1 */
} ctl;

/* Opens the state database (read-only unless writable). */
csod_db *ctl_open_db(ctl *c, int writable);

/* Fails (exit status 1 with a message) unless the caller may administer
 * organization/department; audits refusals. */
int ctl_require_admin(ctl *c, csod_db *db, const char *action, const char *organization,
                      const char *department);

int ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "2026-11-01", "2026-11-01T10:00:00Z" or "3d" (ago): epoch seconds, -1 if bad. */
int64_t ctl_parse_since(const char *text);
void ctl_time(int64_t t, char out[32]);

/* Prints a JSON value (and frees it) when --json, else does nothing and
 * returns 0 so callers print their table. */
int ctl_print_json(ctl *c, json_t *value);

/* A value (field of the row named row) as csodctl prints it. In a table,
 * control characters and bytes that are not UTF-8 are escaped (\n, \x1b,
 * \xff). In JSON (which jansson escapes itself) a value that is not UTF-8
 * cannot be held as it is: it is escaped, said on stderr, and the exit
 * status is 1. NULL is "". The copy lives until csodctl exits. */
const char *ctl_text(ctl *c, const char *row, const char *field, const char *s);

/* ctl_text of n columns of st from column first, named fields, into out. */
void ctl_columns(ctl *c, const char *row, sqlite3_stmt *st, int first, const char *const *fields,
                 int n, const char **out);

/* Appends a row built with json_pack to rows; a row that could not be
 * built is said on stderr (exit status 1), never silently left out. */
void ctl_append(ctl *c, json_t *rows, json_t *row, const char *row_name);

int cmd_request(ctl *c, int argc, char **argv);
int cmd_audit(ctl *c, int argc, char **argv);
int cmd_auto_approve(ctl *c, int argc, char **argv);
int cmd_developer(ctl *c, int argc, char **argv);
int cmd_report(ctl *c, int argc, char **argv);
int cmd_cert(ctl *c, int argc, char **argv);
int cmd_mail(ctl *c, int argc, char **argv);
int cmd_keys(ctl *c, int argc, char **argv);
int ctl_cert_add(ctl *c, csod_db *db, int argc, char **argv);
int ctl_cert_renew(ctl *c, csod_db *db, const char *id);

#endif
