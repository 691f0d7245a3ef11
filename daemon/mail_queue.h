/* The queue side of the mailer (mail_queue.c), for its thread
 * (mail_sender.c). */
#ifndef CSOD_MAIL_QUEUE_H
#define CSOD_MAIL_QUEUE_H

#include <stdint.h>

#include "mail.h"

/* Tries the oldest message that is due, on the calling thread, with mc;
 * records what came of it (unless abort was set meanwhile and the message
 * was not taken: it stays as it was). Returns 0 to be called again at once,
 * else the seconds until the next message is due (at most 60). */
/* node names this node's claim on the message while it is sent (mail
 * claimed by a live node is left to it; lease_s: how long the claim holds
 * unless the node's heartbeat renews it). */
int64_t csod_mail_send_next(csod_db *db, const csod_mail_config *mc, const char *spool,
                            const char *node, int64_t lease_s, csod_mail_abort *abort);

#endif
