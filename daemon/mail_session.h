/* The socket side of an SMTP session, for mail_smtp.c: finding the socket
 * libesmtp connected so that csod_mail_abort_now can shut it down, and
 * reading a TLS 1.3 server's tickets before libesmtp trips over them. */
#ifndef CSOD_MAIL_SESSION_H
#define CSOD_MAIL_SESSION_H

#include <openssl/ssl.h>

#include "mail.h"

/* On the sender thread, when libesmtp has just connected to port. */
void csod_mail_session_attach(csod_mail_abort *a, int port);
/* When the session is over (before anything else may reuse the fd). */
void csod_mail_session_detach(csod_mail_abort *a);

/* After a STARTTLS handshake, before EHLO. */
void csod_mail_tls_settle(SSL *ssl);

#endif
