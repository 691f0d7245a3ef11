/* Schema migrations. Each entry moves the database from version i to i+1;
 * never edit a migration that has shipped, add a new one. */
#include "db_schema.h"

#include <stddef.h>

static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);"

    "CREATE TABLE developers("
    " user TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT,"
    " organization TEXT NOT NULL, department TEXT,"
    " digests TEXT, service TEXT,"
    " created INTEGER NOT NULL, removed INTEGER);"

    "CREATE TABLE keys("
    " id INTEGER PRIMARY KEY, backend TEXT NOT NULL, algorithm TEXT NOT NULL,"
    " bits INTEGER NOT NULL, blob BLOB, uri TEXT, created INTEGER NOT NULL);"

    "CREATE TABLE certificates("
    " id INTEGER PRIMARY KEY, developer TEXT, organization TEXT, department TEXT,"
    " email TEXT, full_name TEXT, contact_email TEXT, domain TEXT,"
    " term_years INTEGER, algorithm TEXT, key_bits INTEGER, csod INTEGER NOT NULL DEFAULT 1,"
    " is_ca INTEGER NOT NULL DEFAULT 0, key_id INTEGER REFERENCES keys(id),"
    " state TEXT NOT NULL, order_no TEXT UNIQUE, serial TEXT,"
    " requested INTEGER, collected INTEGER, not_before INTEGER, expires INTEGER,"
    " revoked INTEGER, revoke_reason TEXT, csr_pem TEXT, cert_pem TEXT,"
    " chain_pem TEXT, error TEXT);"
    "CREATE INDEX certificates_owner ON certificates(developer, organization, state);"
    "CREATE INDEX certificates_state ON certificates(state);"

    "CREATE TABLE requests("
    " id TEXT PRIMARY KEY, developer TEXT NOT NULL, organization TEXT,"
    " department TEXT, version TEXT, service TEXT, digests TEXT NOT NULL,"
    " options TEXT, state TEXT NOT NULL, created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL, approved INTEGER, approver TEXT, message TEXT,"
    " error TEXT, signed INTEGER, expires INTEGER, certificate_id INTEGER,"
    " drop_name TEXT NOT NULL);"
    "CREATE INDEX requests_state ON requests(state, expires);"
    "CREATE INDEX requests_developer ON requests(developer, created);"
    "CREATE INDEX requests_created ON requests(created);"

    "CREATE TABLE files("
    " request_id TEXT NOT NULL REFERENCES requests(id), idx INTEGER NOT NULL,"
    " name TEXT NOT NULL, size INTEGER NOT NULL, md5 TEXT, sha1 TEXT, sha256 TEXT,"
    " engine TEXT, output TEXT, PRIMARY KEY(request_id, idx));"

    "CREATE TABLE mail_queue("
    " id INTEGER PRIMARY KEY, created INTEGER NOT NULL, kind TEXT NOT NULL,"
    " request_id TEXT, recipient TEXT NOT NULL, subject TEXT NOT NULL,"
    " body TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'queued',"
    " attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL,"
    " last_error TEXT, sent INTEGER);"
    "CREATE INDEX mail_queue_due ON mail_queue(state, next_attempt);"

    "CREATE TABLE audit("
    " id INTEGER PRIMARY KEY, time INTEGER NOT NULL, actor TEXT NOT NULL,"
    " action TEXT NOT NULL, object TEXT, detail TEXT,"
    " prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX audit_time ON audit(time);",

    /* 2: the state each request's outbox views last showed (views.h) */
    "ALTER TABLE requests ADD COLUMN published TEXT;"
    "UPDATE requests SET published = state;",

    /* 3: which developers csod.conf defines (1), so that one taken out of
     * the file is removed at the next reload (developers.c) */
    "ALTER TABLE developers ADD COLUMN from_config INTEGER NOT NULL DEFAULT 0;",

    /* 4: each message's Date and Message-ID, fixed when it is queued, so
     * that every attempt sends the same message (mail_queue.c); a row
     * queued before gets them at its next attempt. State 'failed' (a 5xx
     * answer) joins 'queued', 'sent' and 'dead'. */
    "ALTER TABLE mail_queue ADD COLUMN date TEXT;"
    "ALTER TABLE mail_queue ADD COLUMN message_id TEXT;",

    /* 5: the pre-sign checks (checks.h): their summary ('pending', 'pass',
     * 'fail', 'hold'; NULL when none were configured) and each check's
     * verdict as a JSON array, kept with the request so that they survive
     * a restart and show in every view. */
    "ALTER TABLE requests ADD COLUMN checks TEXT;"
    "ALTER TABLE requests ADD COLUMN check_results TEXT;",

    /* 6: the seed's certificate view: when a certificate was first
     * downloaded, and whether mail about it is suspended; the contact
     * email only when one was given (it goes into the certificate), no
     * longer a copy of the email; every organization/department a
     * developer belongs to (JSON [[organization, department], ...], the
     * first is organization/department), of which each request picks one. */
    "ALTER TABLE certificates ADD COLUMN downloaded INTEGER;"
    "ALTER TABLE certificates ADD COLUMN notifications_suspended INTEGER NOT NULL DEFAULT 0;"
    "UPDATE certificates SET contact_email = NULL WHERE contact_email = email;"
    "ALTER TABLE developers ADD COLUMN places TEXT;",

    /* 7: cluster mode (docs/DESIGN.md "Cluster"): the nodes sharing the
     * spool and this database, each with its heartbeat and lease; the
     * node that holds a request's signing or a message's sending, until
     * when (a conditional UPDATE claims it; an expired lease is taken
     * over). */
    "CREATE TABLE nodes("
    " name TEXT PRIMARY KEY, host TEXT, pid INTEGER NOT NULL, started INTEGER NOT NULL,"
    " heartbeat INTEGER NOT NULL, lease_until INTEGER NOT NULL,"
    " intakes INTEGER NOT NULL DEFAULT 0, stopped INTEGER, recovered INTEGER);"
    "ALTER TABLE requests ADD COLUMN claimed_by TEXT;"
    "ALTER TABLE requests ADD COLUMN lease_until INTEGER;"
    "ALTER TABLE mail_queue ADD COLUMN claimed_by TEXT;"
    "ALTER TABLE mail_queue ADD COLUMN lease_until INTEGER;",
};

int csod_schema_latest(void)
{
	return (int)(sizeof migrations / sizeof migrations[0]);
}

const char *csod_schema_migration(int to_version)
{
	if (to_version < 1 || to_version > csod_schema_latest())
		return NULL;
	return migrations[to_version - 1];
}
