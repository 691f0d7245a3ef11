/* Mail: rendered from templates, queued in the database before anything is
 * sent, delivered by a thread of its own (so signing never waits on a mail
 * server), retried with backoff until accepted or too old. */
#ifndef CSOD_MAIL_H
#define CSOD_MAIL_H

#include "config.h"
#include "db.h"

typedef struct csod_mailer csod_mailer;

/* Starts the sender thread with its own connection to the database at
 * db_path. */
csod_mailer *csod_mailer_start(const csod_config *cfg, const char *db_path, csod_error *err);
void csod_mailer_wake(csod_mailer *m);
/* Swaps the configuration; cfg must stay valid until the next swap or stop. */
void csod_mailer_set_config(csod_mailer *m, const csod_config *cfg);
void csod_mailer_stop(csod_mailer *m);

/* Queues one message for one recipient. */
int csod_mail_enqueue(csod_db *db, const char *kind, const char *request_id, const char *recipient,
                      const char *subject, const char *body, csod_error *err);

/* Renders template <template_dir>/<kind>.txt (first line "Subject: ...",
 * then the body), or the built-in one, replacing {{name}} with the value
 * that follows name in vars (NULL-terminated name, value, ... pairs). */
int csod_mail_render(const char *template_dir, const char *kind, const char *const *vars,
                     char **subject, char **body, csod_error *err);

/* The whole RFC 5322 message (headers with Date, Message-ID, an RFC 2047
 * encoded Subject when it is not ASCII; UTF-8 body). */
char *csod_mail_format(const char *from, const char *to, const char *subject, const char *body);

/* Delivers one formatted message; 0 accepted, -1 with the reason. */
int csod_mail_send_spool(const char *spool, const char *message, csod_error *err);
int csod_mail_send_smtp(const csod_mail_config *mc, const char *to, const char *message,
                        csod_error *err);

#endif
