/* csod.conf, parsed once into plain structs. A reload parses into a new
 * csod_config and swaps it in only when the whole file is valid. */
#ifndef CSOD_CONFIG_H
#define CSOD_CONFIG_H

#include <stdint.h>
#include <sys/types.h>

#include "../lib/error.h"
#include "db.h"

enum csod_role { CSOD_ROLE_MRAO, CSOD_ROLE_RAO, CSOD_ROLE_DRAO };

typedef struct csod_organization {
	char *name;
	char **domains;     /* NULL-terminated; email domains the organization owns */
	char **departments; /* NULL-terminated */
	int auto_approve;   /* -1 = follow the global setting */
} csod_organization;

typedef struct csod_developer {
	char *user; /* Unix user name; also the inbox and outbox folder name */
	char *email;
	char *name; /* full name */
	char *organization;
	char *department; /* may be NULL */
	char **places;    /* further "Organization[/Department]" they belong to; NULL-terminated */
	char **digests;   /* default digests, NULL-terminated; NULL = "sha256" */
	char *service;    /* default service; NULL = by extension */
} csod_developer;

typedef struct csod_admin {
	char *user;
	uid_t uid; /* resolved from user at load time, or given as uid */
	char *email;
	enum csod_role role;
	char **organizations; /* RAO scope, NULL-terminated */
	char **departments;   /* DRAO scope, "Org/Dept", NULL-terminated */
} csod_admin;

typedef struct csod_mail_config {
	char *transport; /* "spool" | "smtp" | "none" */
	char *from;
	char *host;
	int port;
	char *starttls; /* "never" | "if-available" | "required" */
	char *user;
	char *password_file;
	int timeout_s;
	int64_t max_age_s; /* give up (dead) after this long */
	int64_t retry_s;   /* first retry after this long, doubling up to an hour */
	char *ca_file;     /* CAs that vouch for the server's STARTTLS certificate */
	char *templates;   /* folder of templates; NULL: <config dir>/templates */
} csod_mail_config;

typedef struct csod_timestamp_config {
	char **urls;   /* NULL-terminated, tried in order; NULL = no timestamps */
	char *ca_file; /* roots a TSA must chain to; NULL = the system's */
	int required;
	int timeout_s;
	int retries;
} csod_timestamp_config;

typedef struct csod_keys_config {
	char *backend;         /* "database" | "pkcs11" */
	char *master_key_file; /* relative paths are taken from the spool; NULL:
	                        * <state_dir>/master.key */
	char *pkcs11_module;
	char *pkcs11_token;
	char *pkcs11_pin_file;
} csod_keys_config;

typedef struct csod_ca_config {
	char *backend; /* "local" | "directory" | "command" */
	char *command;
	int command_timeout_s;
	int auto_enroll;     /* enroll every developer without a certificate at start */
	char *key_algorithm; /* "rsa" | "ec" */
	int key_bits;        /* RSA 2048/3072/4096, EC 256/384 */
	int term_years;
	char *subject_country;
} csod_ca_config;

/* Pre-sign checks (checks.h): run on the store copy of every request
 * before it can be approved or auto-approved. */
typedef struct csod_checks_config {
	char *clamav_socket;   /* clamd's Unix socket, or NULL */
	char *clamav_tcp;      /* "host:port" of clamd, or NULL */
	int clamav_timeout_s;  /* per file */
	char **policy_command; /* argv of the policy hook (no shell); NULL = none */
	int policy_timeout_s;
} csod_checks_config;

typedef struct csod_config {
	char *path; /* the file this came from */
	char *spool;
	char *state_dir;  /* database, master key, lock; default <spool>/state */
	char *share_path; /* the spool as people reach it (\\files\csod); NULL = spool */
	int64_t settle_ms;
	int64_t poll_interval_s; /* 0 = no periodic scan */
	int64_t retention_s;
	int auto_approve;
	int64_t max_file_size;
	int64_t max_request_files;
	int64_t min_free_space; /* bytes kept free on the spool, unless ... */
	int min_free_percent;   /* ... a share of its filesystem is given (1-50) */
	int workers;            /* signing threads; 0 = one per core */
	char *log_level;        /* "debug" | "info" | "notice" | "warning" | "error" */
	char *approvers_group;  /* may read requests/ besides the admins; NULL = none */
	gid_t approvers_gid;    /* resolved from approvers_group at load time */
	csod_mail_config mail;
	csod_timestamp_config timestamp;
	csod_keys_config keys;
	csod_ca_config ca;
	csod_checks_config checks;
	/* Cluster (docs/DESIGN.md "Cluster"): this node's name (NULL: one node,
	 * named for the host), how long its claims outlive its last heartbeat,
	 * and the database every node shares (database { }: NULL backend =
	 * sqlite at <state_dir>/csod.db). */
	char *node;
	int64_t node_lease_s;
	struct {
		char *backend;  /* "sqlite" or "postgresql" */
		char *path;     /* sqlite; NULL: <state_dir>/csod.db */
		char *conninfo; /* postgresql: libpq's connection string */
	} database;
	/* csodctl's way in (control.h); NULL: <spool>/run/csod.sock */
	char *control_socket;
	csod_organization *organizations;
	int n_organizations;
	csod_developer *developers;
	int n_developers;
	csod_admin *admins;
	int n_admins;
} csod_config;

/* Where the master key file is: keys.master_key_file, else
 * <state_dir>/master.key. Under systemd, a credential named master.key
 * (LoadCredential=master.key:PATH, so in $CREDENTIALS_DIRECTORY) takes its
 * place: *credential is then set, and the file is read, never created. */
int csod_config_master_key(const csod_config *c, char *buf, size_t len, int *credential);

/* Where the state database is (database { }): fills loc; for SQLite, path
 * (len bytes) holds database.path or <state_dir>/csod.db. */
int csod_config_db_location(const csod_config *c, csod_db_location *loc, char *path, size_t len);
/* The database as messages name it: the file, or "the PostgreSQL
 * database" (a conninfo may hold a password). */
const char *csod_config_db_name(const csod_db_location *loc);
/* The node's name: node, else the host's name up to its first dot. */
#define CSOD_NODE_MAX 40
void csod_config_node_name(const csod_config *c, char *out, size_t len);
int csod_node_name_ok(const char *name);

/* Parses path. spool_override (may be NULL) replaces the file's `spool`.
 * Every error names the file, the line and the key, and what was expected. */
csod_config *csod_config_load(const char *path, const char *spool_override, csod_error *err);
void csod_config_free(csod_config *cfg);

const csod_developer *csod_config_developer(const csod_config *cfg, const char *user);
const csod_organization *csod_config_organization(const csod_config *cfg, const char *name);
const csod_admin *csod_config_admin_by_uid(const csod_config *cfg, uid_t uid);

/* Whether any pre-sign check is configured. */
int csod_config_has_checks(const csod_config *cfg);

/* Whether requests of this organization skip approval. */
int csod_config_auto_approve(const csod_config *cfg, const char *organization);

/* "3d", "72h", "90m", "30s", or a plain number of seconds. -1 if invalid. */
int64_t csod_parse_duration(const char *text);
/* "100M", "2G", "512k" or a plain number of bytes. -1 if invalid. */
int64_t csod_parse_size(const char *text);

#endif
