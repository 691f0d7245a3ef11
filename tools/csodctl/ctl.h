/* csodctl's shared state and helpers; one file per group of verbs. */
#ifndef CSODCTL_H
#define CSODCTL_H

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

#include "../../daemon/config.h"
#include "../../daemon/db.h"

typedef struct ctl {
	csod_config *cfg;
	char spool[PATH_MAX];
	int json;
	/* The caller: getuid() offline; in server mode the uid csodd read
	 * from the connection (SO_PEERCRED), never getuid(). */
	uid_t uid;
	char user[64];           /* the caller's Unix user, or "uid:N" */
	const csod_admin *admin; /* NULL: not an admin */
	int is_root;
	int serving;  /* csodctl --serve: answering a client on standard input */
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

/* Who the caller is: uid, user name, admin entry. */
void ctl_set_caller(ctl *c, uid_t uid);

/* Whether the caller may see a request (or certificate) of developer in
 * organization/department: root everything; an admin what their scope
 * covers; anyone their own. For listings, ctl_open_db fills the temporary
 * table ctl_scope that CTL_VISIBLE(developer, organization, department)
 * reads: plain SQL, so that it runs on either database backend. Its
 * columns are named apart from the tables' (scope_department, not
 * department): an unqualified column of the caller's query would otherwise
 * resolve to ctl_scope's own. */
int ctl_may_see(const ctl *c, const char *developer, const char *organization,
                const char *department);
#define CTL_VISIBLE(developer, organization, department)                                           \
	"EXISTS (SELECT 1 FROM ctl_scope s WHERE s.scope_kind = 'all' OR (s.scope_kind = 'user' "  \
	"AND "                                                                                     \
	"s.scope_name = " developer ") OR (s.scope_kind = 'org' AND s.scope_name = " organization  \
	") OR "                                                                                    \
	"(s.scope_kind = 'dept' AND s.scope_name = " organization                                  \
	" AND s.scope_department = " department "))"
/* root and MRAOs see everything (also what belongs to no request). */
int ctl_sees_all(const ctl *c);

/* Where csodctl looks for csodd when it may not read csod.conf. */
#define CTL_DEFAULT_SOCKET "/run/csod/csod.sock"

/* The request states of daemon/states.c, as --state takes them. */
#define CTL_STATES "created, approved, in_progress, signed, expired, declined, failed"

/* usage.c: the whole usage, or one verb's (sub NULL: all its sub-verbs). */
void ctl_usage(FILE *out);
void ctl_verb_usage(FILE *out, const char *verb, const char *sub);
/* A verb used wrongly: its usage on stderr; the exit status 2. */
int ctl_usage_error(const char *verb, const char *sub);
/* Before anything is read: takes --json out of argv wherever it is (sets
 * *json), answers --help for the whole or for a verb (0), refuses an
 * unknown verb or sub-verb naming the nearest real one (2); -1 to go on. */
int ctl_prepare(int *argc, char **argv, int *json);

/* Runs a command (argv[0] is its name); the exit status. */
int ctl_run(ctl *c, int argc, char **argv);
/* Frees what c holds; the exit status for rc. */
int ctl_finish(ctl *c, int rc);

/* request download's arguments (argv[0] is "download"): "ID FILE [-o
 * PATH]" (a signed file) or "ID --submitted [--to DIR]" (the submitted
 * files, the store copy). */
typedef struct ctl_download {
	const char *id;
	const char *file; /* NULL with --submitted */
	const char *dest; /* where: the file (-o PATH, or FILE), or the folder (--to, ".") */
	int submitted;
} ctl_download;
/* 0, or -1 after saying what is wrong. The client uses it too, to know
 * where to write. */
int ctl_download_args(int argc, char **argv, ctl_download *dl);

/* submitted.c: request download ID --submitted, for the approvers whose
 * scope covers the request (and root): every file of the store copy, the
 * bytes that are signed, into dl->dest (client side: ctl_open_new). */
int ctl_download_submitted(ctl *c, csod_db *db, const ctl_download *dl);
/* Whether name (len bytes, from csodd) is a plain file name to create in
 * a folder: 1..255 bytes, valid UTF-8, no '/', NUL or control character,
 * not "." or "..". */
int ctl_plain_name(const char *name, size_t len);
/* Creates name in the open folder dir_fd for writing: never an existing
 * file, never through a symbolic link (O_EXCL|O_NOFOLLOW). -1 after saying
 * why. */
int ctl_open_new(int dir_fd, const char *dir, const char *name);

/* Copies a file the caller downloads from in to dest: offline into dest,
 * in server mode to the client, which writes it as the calling user. */
int ctl_deliver(ctl *c, int in, const char *dest);
/* The same for one file of several, name in the folder dir (open as
 * dir_fd offline; the client's own in server mode). */
int ctl_deliver_named(ctl *c, int in, int dir_fd, const char *dir, const char *name);

/* csodctl --serve (serve.c): the server side of one connection of csodd's
 * control socket (daemon/control.h). */
int ctl_serve(const char *config_path, const char *spool, const char *caller_uid);

/* The client side (client.c): connects to csodd's socket (-1 with errno)
 * and relays a command's output, files and exit status. */
int ctl_connect(const char *path);
int ctl_client(int fd, int json, int argc, char **argv);
/* "2026-11-01", "2026-11-01T10:00:00Z" or "3d" (ago): epoch seconds, -1 if bad. */
int64_t ctl_parse_since(const char *text);
void ctl_time(int64_t t, char out[32]);

/* JSON values as every object of csodctl(8), JSON OUTPUT, has them: a
 * time in ISO 8601 UTC ("2026-12-02T04:10:34Z"), null for none (0); a
 * text, null for none (NULL or ""). */
json_t *ctl_json_time(int64_t t);
json_t *ctl_json_text(const char *s);

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
void ctl_columns(ctl *c, const char *row, csod_stmt *st, int first, const char *const *fields,
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
int cmd_node(ctl *c, int argc, char **argv);
int cmd_keys(ctl *c, int argc, char **argv);
/* csodctl check-config (check_config.c): before any caller or database. */
int ctl_check_config(const char *path, const char *spool);
int ctl_cert_add(ctl *c, csod_db *db, int argc, char **argv);

/* cert_view.c: a certificate's key usage (names, as the seed shows them)
 * and extended key usage (OIDs, with OpenSSL's long name), read from its
 * PEM; all empty when there is none (not issued yet). */
#define CTL_MAX_EKU 8
typedef struct ctl_usages {
	const char *key_usage[9];
	int n_key_usage;
	char eku_oid[CTL_MAX_EKU][80];
	char eku_name[CTL_MAX_EKU][80];
	int n_eku;
} ctl_usages;
void ctl_cert_usages(const char *pem, ctl_usages *u);
/* The key usage names (extended 0) or the EKU OIDs (1) as a JSON array. */
json_t *ctl_usages_json(const ctl_usages *u, int extended);
void ctl_usages_print(const ctl_usages *u);
/* cert suspend-notifications / resume-notifications ID. */
int ctl_cert_notifications(ctl *c, csod_db *db, const char *id, int suspend);
int ctl_cert_renew(ctl *c, csod_db *db, const char *id);

#endif
