/* SMTP delivery with libesmtp: STARTTLS as configured, AUTH with a password
 * read from a file, timeouts so a stuck server cannot hold the queue. */
#include <stddef.h> /* libesmtp.h uses size_t without it */

#include <openssl/ssl.h> /* before libesmtp.h: it then declares smtp_starttls_set_ctx */

#include <auth-client.h>
#include <libesmtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "../lib/fsutil.h"
#include "mail.h"

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

static int status_error(const smtp_status_t *s, const char *what, csod_error *err)
{
	return csod_fail(err, "%s: %d %s", what, s ? s->code : 0,
	                 s && s->text ? s->text : "(no answer)");
}

int csod_mail_send_smtp(const csod_mail_config *mc, const char *to, const char *message,
                        csod_error *err)
{
	smtp_credentials cred = {mc->user, NULL};
	if (mc->user && mc->password_file) {
		size_t len;
		if (csod_read_file(mc->password_file, 4096, &cred.password, &len, err) < 0)
			return -1;
		while (len > 0 &&
		       (cred.password[len - 1] == '\n' || cred.password[len - 1] == '\r'))
			cred.password[--len] = '\0';
	}
	auth_client_init();
	smtp_session_t session = smtp_create_session();
	smtp_message_t msg = session ? smtp_add_message(session) : NULL;
	auth_context_t auth = NULL;
	SSL_CTX *ssl = NULL;
	int rc = -1;
	char hostport[300];
	snprintf(hostport, sizeof hostport, "%s:%d", mc->host ? mc->host : "localhost", mc->port);
	if (!msg) {
		csod_fail(err, "smtp: cannot create a session");
		goto out;
	}
	long timeout_ms = (long)(mc->timeout_s > 0 ? mc->timeout_s : 30) * 1000;
	smtp_set_timeout(session, Timeout_GREETING | Timeout_OVERRIDE_RFC2822_MINIMUM, timeout_ms);
	smtp_set_timeout(session, Timeout_ENVELOPE | Timeout_OVERRIDE_RFC2822_MINIMUM, timeout_ms);
	smtp_set_timeout(session, Timeout_DATA | Timeout_OVERRIDE_RFC2822_MINIMUM, timeout_ms);
	smtp_set_timeout(session, Timeout_TRANSFER | Timeout_OVERRIDE_RFC2822_MINIMUM, timeout_ms);
	smtp_set_timeout(session, Timeout_DATA2 | Timeout_OVERRIDE_RFC2822_MINIMUM, timeout_ms);
	enum starttls_option tls = Starttls_ENABLED;
	if (mc->starttls && strcmp(mc->starttls, "never") == 0)
		tls = Starttls_DISABLED;
	else if (mc->starttls && strcmp(mc->starttls, "required") == 0)
		tls = Starttls_REQUIRED;
	smtp_starttls_enable(session, tls);
	if (tls != Starttls_DISABLED) {
		/* Our own context: the server's certificate is checked against the
		 * system's CAs, or mail.ca_file for an in-house relay. */
		ssl = SSL_CTX_new(TLS_client_method());
		if (ssl) {
			SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, NULL);
			if (mc->ca_file)
				SSL_CTX_load_verify_locations(ssl, mc->ca_file, NULL);
			else
				SSL_CTX_set_default_verify_paths(ssl);
			smtp_starttls_set_ctx(session, ssl);
		}
	}
	if (cred.password) {
		auth = auth_create_context();
		auth_set_mechanism_flags(auth, AUTH_PLUGIN_PLAIN, 0);
		auth_set_interact_cb(auth, interact, &cred);
		smtp_auth_set_context(session, auth);
	}
	smtp_set_server(session, hostport);
	smtp_set_reverse_path(msg, mc->from);
	smtp_recipient_t rcpt = smtp_add_recipient(msg, to);
	smtp_set_message_str(msg, (void *)message);
	if (!smtp_start_session(session)) {
		char buf[256];
		csod_fail(err, "smtp %s: %s", hostport,
		          smtp_strerror(smtp_errno(), buf, sizeof buf));
		goto out;
	}
	const smtp_status_t *rs = rcpt ? smtp_recipient_status(rcpt) : NULL;
	if (!rs || rs->code == 0) {
		/* The session ended before RCPT: most often STARTTLS (not offered
		 * when required, or a certificate that does not check out). */
		char buf[256];
		csod_fail(err, "smtp %s: the session ended early%s: %s", hostport,
		          tls != Starttls_DISABLED ? " (STARTTLS refused, not offered, or the "
		                                     "server certificate failed its check)"
		                                   : "",
		          smtp_strerror(smtp_errno(), buf, sizeof buf));
		goto out;
	}
	if (rs->code / 100 != 2) {
		status_error(rs, "smtp: recipient refused", err);
		goto out;
	}
	const smtp_status_t *ms = smtp_message_transfer_status(msg);
	if (!ms || ms->code / 100 != 2) {
		status_error(ms, "smtp: message refused", err);
		goto out;
	}
	rc = 0;
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
