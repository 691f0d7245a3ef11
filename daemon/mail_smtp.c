/* SMTP delivery with libesmtp: STARTTLS as configured, AUTH with a password
 * read from a file, timeouts so a stuck server cannot hold the queue, a
 * socket csodd's stop can shut down (mail_session.c), and a reason that
 * says what the server did: a 5xx to this recipient or this message is
 * final; everything else (4xx, silence, a lost connection, TLS, a 5xx about
 * the session or csod's sender address, the same for every message) is
 * tried again. */
#include <stddef.h> /* libesmtp.h uses size_t without it */

#include <openssl/ssl.h> /* before libesmtp.h: it then declares smtp_starttls_set_ctx */

#include <auth-client.h>
#include <libesmtp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "../lib/fsutil.h"
#include "mail.h"
#include "mail_session.h"

typedef struct smtp_credentials {
	const char *user;
	char *password;
} smtp_credentials;

static int interact(auth_client_request_t request, char **result, int fields, void *arg)
{
	smtp_credentials *c = arg;
	for (int i = 0; i < fields; i++) {
		if (request[i].flags & AUTH_USER)
			result[i] = (char *)c->user;
		else if (request[i].flags & AUTH_PASS)
			result[i] = c->password;
		else
			return 0;
	}
	return 1;
}

/* What the session showed of the server, for a reason that says where it
 * stopped. */
typedef struct session_watch {
	const csod_mail_config *mc;
	csod_mail_abort *abort;
	int connected;        /* TCP connected */
	int heard;            /* the server said anything at all */
	int answered;         /* ... since our last command */
	int starttls_missing; /* required, not offered */
	const char *cert;     /* what was wrong with the server's certificate */
	char last[24];        /* our last command ("EHLO"), or "the message" */
} session_watch;

static void on_event(smtp_session_t session, int event, void *arg, ...)
{
	(void)session;
	session_watch *w = arg;
	if (event == SMTP_EV_CONNECT) {
		w->connected = 1;
		csod_mail_session_attach(w->abort, w->mc->port);
	} else if (event == SMTP_EV_DISCONNECT) {
		/* libesmtp may go on to another of the host's addresses. */
		csod_mail_session_detach(w->abort);
	} else if (event == SMTP_EV_MESSAGEDATA) {
		/* The message is being sent (the monitor does not see it). */
		snprintf(w->last, sizeof w->last, "the message");
		w->answered = 0;
	} else if (event == SMTP_EV_EXTNA_STARTTLS) {
		w->starttls_missing = 1;
	} else if (event == SMTP_EV_STARTTLS_OK) {
		va_list ap;
		va_start(ap, arg);
		SSL *ssl = va_arg(ap, SSL *);
		va_end(ap);
		csod_mail_tls_settle(ssl);
	} else if (event == SMTP_EV_INVALID_PEER_CERTIFICATE) {
		w->cert = "did not verify";
	} else if (event == SMTP_EV_NO_PEER_CERTIFICATE) {
		w->cert = "was not sent";
	} else if (event == SMTP_EV_WRONG_PEER_CERTIFICATE) {
		w->cert = "does not name mail.host";
	}
	/* Certificate events keep libesmtp's answer: refuse. */
}

/* Sees the protocol, not the message (libesmtp leaves its body out). */
static void on_monitor(const char *buf, int len, int writing, void *arg)
{
	session_watch *w = arg;
	if (!writing) {
		w->heard = w->answered = 1;
		return;
	}
	/* The last line written, when it is a command. */
	int end = len;
	while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\r'))
		end--;
	int start = end;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	static const char *const verbs[] = {"EHLO", "HELO", "STARTTLS", "AUTH",
	                                    "MAIL", "RCPT", "DATA",     "QUIT"};
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		size_t n = strlen(verbs[i]);
		if ((size_t)(end - start) >= n && strncasecmp(buf + start, verbs[i], n) == 0)
			snprintf(w->last, sizeof w->last, "%s", verbs[i]);
	}
	w->answered = 0;
}

/* A server's answer as one line: its own line ends (CRLF, and those
 * between the lines of a multi-line answer) become spaces. */
static enum csod_mail_result answer(const smtp_status_t *s, const char *what,
                                    enum csod_mail_result result, csod_error *err)
{
	char text[400];
	snprintf(text, sizeof text, "%s", s->text ? s->text : "");
	for (char *c = text; *c; c++)
		if (*c == '\r' || *c == '\n')
			*c = ' ';
	size_t n = strlen(text);
	while (n > 0 && text[n - 1] == ' ')
		text[--n] = '\0';
	csod_fail(err, "smtp: %s: %d %s", what, s->code, text);
	return result;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Where and why the session ended without the server's final answer. */
static void why_unanswered(const session_watch *w, const char *hostport, int timed_out,
                           int timeout_s, csod_error *err)
{
	char buf[256];
	unsigned long tls_error = ERR_peek_last_error();
	if (!w->heard && timed_out)
		csod_fail(err, "smtp %s: the server did not greet within %d s", hostport,
		          timeout_s);
	else if (!w->heard)
		csod_fail(err, "smtp %s: the server closed the connection without greeting",
		          hostport);
	else if (w->starttls_missing)
		csod_fail(err,
		          "smtp %s: the server does not offer STARTTLS (mail.starttls is "
		          "\"required\")",
		          hostport);
	else if (w->cert)
		csod_fail(
		    err, "smtp %s: the session ended early (STARTTLS: the server's certificate %s)",
		    hostport, w->cert);
	else if (strcmp(w->last, "STARTTLS") == 0 && w->answered && tls_error)
		csod_fail(err,
		          "smtp %s: the session ended early (STARTTLS handshake failed: %s; is the "
		          "server's certificate from mail.ca_file or the system's CAs?)",
		          hostport, ERR_reason_error_string(tls_error));
	else if (w->last[0] && !w->answered && timed_out)
		csod_fail(err, "smtp %s: no answer to %s within %d s", hostport, w->last,
		          timeout_s);
	else if (w->last[0] && !w->answered)
		csod_fail(err, "smtp %s: the server closed the connection after %s", hostport,
		          w->last);
	else
		csod_fail(err, "smtp %s: the session ended early: %s", hostport,
		          smtp_strerror(smtp_errno(), buf, sizeof buf));
}

static int positive(const smtp_status_t *s)
{
	return s && s->code / 100 == 2;
}

static enum csod_mail_result outcome(const session_watch *w, smtp_message_t msg,
                                     smtp_recipient_t rcpt, int ran, double elapsed,
                                     const char *hostport, csod_error *err)
{
	const smtp_status_t *from = smtp_reverse_path_status(msg);
	const smtp_status_t *to = smtp_recipient_status(rcpt);
	/* After a refused RCPT, libesmtp's RSET answers for the transfer. */
	const smtp_status_t *sent = positive(to) ? smtp_message_transfer_status(msg) : NULL;
	if (positive(from) && positive(sent))
		return CSOD_MAIL_SENT; /* taken, even if a stop came after */
	if (csod_mail_aborted(w->abort)) {
		csod_fail(err, "smtp %s: interrupted: csodd is stopping", hostport);
		return CSOD_MAIL_RETRY;
	}
	char buf[256];
	if (!ran && !w->connected) {
		csod_fail(err, "smtp %s: %s", hostport,
		          smtp_strerror(smtp_errno(), buf, sizeof buf));
		return CSOD_MAIL_RETRY;
	}
	if (from && from->code / 100 >= 4)
		return answer(from, "sender refused", CSOD_MAIL_RETRY, err);
	if (to && to->code / 100 == 5)
		return answer(to, "recipient refused", CSOD_MAIL_REFUSED, err);
	if (to && to->code / 100 == 4)
		return answer(to, "recipient deferred", CSOD_MAIL_RETRY, err);
	if (sent && sent->code / 100 == 5)
		return answer(sent, "message refused", CSOD_MAIL_REFUSED, err);
	if (sent && sent->code / 100 == 4)
		return answer(sent, "message deferred", CSOD_MAIL_RETRY, err);
	int timeout_s = w->mc->timeout_s > 0 ? w->mc->timeout_s : 30;
	why_unanswered(w, hostport, elapsed >= timeout_s - 0.5, timeout_s, err);
	return CSOD_MAIL_RETRY;
}

static void set_timeouts(smtp_session_t session, int timeout_s)
{
	long ms = (long)(timeout_s > 0 ? timeout_s : 30) * 1000;
	static const int which[] = {Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA,
	                            Timeout_TRANSFER, Timeout_DATA2};
	for (size_t i = 0; i < sizeof which / sizeof which[0]; i++)
		smtp_set_timeout(session, which[i] | Timeout_OVERRIDE_RFC2822_MINIMUM, ms);
}

/* Our own context: the server's certificate is checked against the
 * system's CAs, or mail.ca_file for an in-house relay. */
static SSL_CTX *tls_context(const csod_mail_config *mc)
{
	SSL_CTX *ssl = SSL_CTX_new(TLS_client_method());
	if (ssl) {
		SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		if (mc->ca_file)
			SSL_CTX_load_verify_locations(ssl, mc->ca_file, NULL);
		else
			SSL_CTX_set_default_verify_paths(ssl);
	}
	return ssl;
}

enum csod_mail_result csod_mail_send_smtp(const csod_mail_config *mc, const char *to,
                                          const char *message, csod_mail_abort *abort,
                                          csod_error *err)
{
	smtp_credentials cred = {mc->user, NULL};
	if (mc->user && mc->password_file) {
		size_t len;
		if (csod_read_file(mc->password_file, 4096, &cred.password, &len, err) < 0)
			return CSOD_MAIL_RETRY;
		while (len > 0 &&
		       (cred.password[len - 1] == '\n' || cred.password[len - 1] == '\r'))
			cred.password[--len] = '\0';
	}
	auth_client_init();
	smtp_session_t session = smtp_create_session();
	smtp_message_t msg = session ? smtp_add_message(session) : NULL;
	auth_context_t auth = NULL;
	SSL_CTX *ssl = NULL;
	enum csod_mail_result rc = CSOD_MAIL_RETRY;
	char hostport[300];
	snprintf(hostport, sizeof hostport, "%s:%d", mc->host ? mc->host : "localhost", mc->port);
	if (!msg) {
		csod_fail(err, "smtp: cannot create a session");
		goto out;
	}
	set_timeouts(session, mc->timeout_s);
	enum starttls_option tls = Starttls_ENABLED;
	if (mc->starttls && strcmp(mc->starttls, "never") == 0)
		tls = Starttls_DISABLED;
	else if (mc->starttls && strcmp(mc->starttls, "required") == 0)
		tls = Starttls_REQUIRED;
	smtp_starttls_enable(session, tls);
	if (tls != Starttls_DISABLED && (ssl = tls_context(mc)))
		smtp_starttls_set_ctx(session, ssl);
	if (cred.password) {
		auth = auth_create_context();
		auth_set_mechanism_flags(auth, AUTH_PLUGIN_PLAIN, 0);
		auth_set_interact_cb(auth, interact, &cred);
		smtp_auth_set_context(session, auth);
	}
	session_watch w = {.mc = mc, .abort = abort};
	smtp_set_eventcb(session, on_event, &w);
	smtp_set_monitorcb(session, on_monitor, &w, 0);
	smtp_set_server(session, hostport);
	smtp_set_reverse_path(msg, mc->from);
	smtp_recipient_t rcpt = smtp_add_recipient(msg, to);
	smtp_set_message_str(msg, (void *)message);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ERR_clear_error();
	int ran = csod_mail_aborted(abort) ? 0 : smtp_start_session(session);
	csod_mail_session_detach(abort);
	rc = rcpt ? outcome(&w, msg, rcpt, ran, seconds_since(&t0), hostport, err)
	          : (csod_fail(err, "smtp: cannot add the recipient"), CSOD_MAIL_RETRY);
	ERR_clear_error();
out:
	if (session)
		smtp_destroy_session(session);
	if (auth)
		auth_destroy_context(auth);
	SSL_CTX_free(ssl);
	if (cred.password) {
		OPENSSL_cleanse(cred.password, strlen(cred.password));
		free(cred.password);
	}
	return rc;
}
