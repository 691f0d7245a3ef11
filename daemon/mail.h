/* Mail: rendered from templates, queued in the database before anything is
 * sent, delivered by a thread of its own (so signing never waits on a mail
 * server), retried with backoff until accepted, refused or too old. */
#ifndef CSOD_MAIL_H
#define CSOD_MAIL_H

#include <pthread.h>

#include "config.h"
#include "db.h"

typedef struct csod_mailer csod_mailer;

/* Starts the sender thread with its own connection to the database at
 * db_path. */
csod_mailer *csod_mailer_start(const csod_config *cfg, const csod_db_location *loc,
                               const char *node, csod_error *err);
void csod_mailer_wake(csod_mailer *m);
/* Takes a copy of cfg's mail settings for the next message; never waits
 * for a message being sent. */
void csod_mailer_set_config(csod_mailer *m, const csod_config *cfg);
/* Ends a session in progress and returns within about a second whatever
 * the server does; the message it was sending stays queued. */
void csod_mailer_stop(csod_mailer *m);

/* Queues one message for one recipient, its Date and Message-ID fixed now
 * (a resend is recognisably the same message). Inside a transaction of the
 * caller's, it is part of it. */
int csod_mail_enqueue(csod_db *db, const char *kind, const char *request_id, const char *recipient,
                      const char *subject, const char *body, csod_error *err);

/* Renders template <template_dir>/<kind>.txt (first line "Subject: ...",
 * then the body), or the built-in one, replacing {{name}} with the value
 * that follows name in vars (NULL-terminated name, value, ... pairs). */
int csod_mail_render(const char *template_dir, const char *kind, const char *const *vars,
                     char **subject, char **body, csod_error *err);

/* The same, looking first for <template_dir>/<organization>/<kind>.txt: an
 * organization's own wording overrides the global one (organization may
 * be NULL). */
int csod_mail_render_for(const char *template_dir, const char *organization, const char *kind,
                         const char *const *vars, char **subject, char **body, csod_error *err);

/* Where templates are: mail.templates, else <the config file's folder>/
 * templates (/etc/csod/templates as installed). */
void csod_mail_template_dir(const csod_config *cfg, char *out, size_t len);

/* A new Date header value (now, UTC) and Message-ID (<time.random@host>). */
void csod_mail_stamp(char date[64], char message_id[128]);

/* The whole RFC 5322 message (headers with the given Date and Message-ID,
 * an RFC 2047 encoded Subject when it is not ASCII; UTF-8 body). NULL when
 * a header value holds CR or LF. */
char *csod_mail_format(const char *from, const char *to, const char *subject, const char *date,
                       const char *message_id, const char *body);

/* What a delivery attempt came to. */
enum csod_mail_result {
	CSOD_MAIL_SENT = 0,
	CSOD_MAIL_RETRY = -1,   /* 4xx, no answer, a connection or TLS failure */
	CSOD_MAIL_REFUSED = -2, /* 5xx to this recipient or this message: final */
};

/* Lets another thread end an SMTP session at once (csodd's stop). */
typedef struct csod_mail_abort {
	pthread_mutex_t lock;
	int fd;      /* a duplicate of the session's socket once connected, else -1 */
	int aborted; /* once set, every session ends at once */
} csod_mail_abort;

void csod_mail_abort_init(csod_mail_abort *a);
void csod_mail_abort_destroy(csod_mail_abort *a);
/* Shuts the session's socket down: the sender's next read or write fails. */
void csod_mail_abort_now(csod_mail_abort *a);
int csod_mail_aborted(csod_mail_abort *a);

/* Delivers one formatted message; the reason is one line. */
enum csod_mail_result csod_mail_send_spool(const char *spool, const char *message, csod_error *err);
enum csod_mail_result csod_mail_send_smtp(const csod_mail_config *mc, const char *to,
                                          const char *message, csod_mail_abort *abort,
                                          csod_error *err);

#endif
