/* Templates and the message format. */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "../lib/fsutil.h"
#include "../lib/text.h"
#include "mail.h"

static const struct {
	const char *kind, *text;
} builtin[] = {
    {"approval_needed",
     "Subject: csod: {{developer}} asks to sign {{what}} (request {{id}})\n"
     "{{developer}} asks to sign {{summary}}.\n{{place}}; digests {{digests}}.\n\n"
     "Files:\n{{files}}\n"
     "Pre-sign checks: {{checks}}\n\n"
     "To approve, create {{approve_marker}} (its text is your message),\n"
     "or run: csodctl request approve {{id}} -m \"...\"\n"
     "To decline, create {{decline_marker}}.\n"
     "Details: {{details}}\n"},
    {"signed", "Subject: csod: {{what}} is signed (request {{id}})\n"
               "Your files are signed:\n{{files}}\n"
               "They stay in {{outbox}} until {{expires}}.\n"
               "Approved by {{approver}}: {{message}}\n\n"
               "Verify with:\n  {{verify}}\n"},
    {"declined", "Subject: csod: {{what}} was declined (request {{id}})\n"
                 "Request {{id}} ({{version}}) was declined by {{approver}}.\n\n"
                 "Message: {{message}}\n"},
    {"failed", "Subject: csod: {{what}} failed (request {{id}})\n"
               "Request {{id}} could not be signed:\n\n  {{error}}\n\n"
               "Nothing was published. Fix the input and drop it again.\n"},
    {"welcome", "Subject: csod: your code-signing inbox\n"
                "Welcome, {{name}}.\n\nMap the share {{share}} (a drive on Windows).\n"
                "Copy files to sign into {{inbox}}\n"
                "(one file is one request; a folder is one request with all its files).\n"
                "Signed files appear in {{outbox}};\n"
                "open {{status_page}} in a browser to follow your requests.\n"
                "A folder may hold a request.conf, for example:\n"
                "  version = \"1.0\";\n  digests = [ \"sha256\" ];\n"},
    {"cert_issued", "Subject: csod: certificate {{id}} issued\n"
                    "A code-signing certificate was issued for {{developer}} "
                    "({{organization}}), valid until {{expires}}.\n"},
    {"cert_expiring", "Subject: csod: certificate {{id}} expires on {{expires}}\n"
                      "The code-signing certificate of {{developer}} ({{organization}}) "
                      "expires on {{expires}}. Renew it: csodctl cert renew {{id}}\n"},
};

static const char *lookup(const char *const *vars, const char *name, size_t len)
{
	for (int i = 0; vars && vars[i] && vars[i + 1]; i += 2)
		if (strlen(vars[i]) == len && strncmp(vars[i], name, len) == 0)
			return vars[i + 1];
	return NULL;
}

/* Lists the caller builds line by line, escaping each part: their newlines
 * stay. Every other value is one line of text from outside. */
static int is_block(const char *name)
{
	return strcmp(name, "files") == 0;
}

/* A value as a mail may print it: control characters escaped (a newline
 * in a file name or a version must not start a line of its own, an escape
 * sequence must not reach a terminal), and only UTF-8, as the mail says. */
static char *shown_value(const char *const *vars, const char *name, size_t len)
{
	char key[64];
	if (len >= sizeof key)
		return NULL;
	memcpy(key, name, len);
	key[len] = '\0';
	const char *value = lookup(vars, key, len);
	if (!value)
		return NULL;
	return is_block(key) ? csod_escape_lines(value) : csod_escape(value);
}

static int grow(char **out, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t cap2 = need * 2;
	char *grown = realloc(*out, cap2);
	if (!grown)
		return -1;
	*out = grown;
	*cap = cap2;
	return 0;
}

static char *substitute(const char *text, const char *const *vars)
{
	size_t cap = strlen(text) + 1, len = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	for (const char *p = text; *p;) {
		const char *end = strncmp(p, "{{", 2) == 0 ? strstr(p + 2, "}}") : NULL;
		char *value = end ? shown_value(vars, p + 2, (size_t)(end - p - 2)) : NULL;
		size_t n = value ? strlen(value) : 1;
		if (grow(&out, &cap, len + n + 1) < 0) {
			free(value);
			free(out);
			return NULL;
		}
		if (value) {
			memcpy(out + len, value, n);
			p = end + 2;
		} else {
			out[len] = *p++;
		}
		len += n;
		free(value);
	}
	out[len] = '\0';
	return out;
}

/* An organization's own folder of templates, <dir>/<organization>/: only
 * for a name that is one plain path component (organizations are named in
 * the config, but a '/' or a leading '.' must not reach another folder). */
static int org_dir_ok(const char *organization)
{
	return organization && organization[0] && organization[0] != '.' &&
	       !strchr(organization, '/');
}

/* The template's text: the organization's file, the global file, or the
 * built-in one. *file is what was read (to be freed), path its name. */
static const char *template_text(const char *template_dir, const char *organization,
                                 const char *kind, char **file, char *path, size_t len)
{
	*file = NULL;
	path[0] = '\0';
	if (template_dir && org_dir_ok(organization) &&
	    csod_path(path, len, "%s/%s/%s.txt", template_dir, organization, kind) == 0 &&
	    csod_read_file(path, 65536, file, NULL, NULL) == 0)
		return *file;
	if (template_dir && csod_path(path, len, "%s/%s.txt", template_dir, kind) == 0 &&
	    csod_read_file(path, 65536, file, NULL, NULL) == 0)
		return *file;
	snprintf(path, len, "(built-in %s template)", kind);
	for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
		if (strcmp(builtin[i].kind, kind) == 0)
			return builtin[i].text;
	return NULL;
}

int csod_mail_render(const char *template_dir, const char *kind, const char *const *vars,
                     char **subject, char **body, csod_error *err)
{
	return csod_mail_render_for(template_dir, NULL, kind, vars, subject, body, err);
}

int csod_mail_render_for(const char *template_dir, const char *organization, const char *kind,
                         const char *const *vars, char **subject, char **body, csod_error *err)
{
	char path[4096], *file = NULL;
	const char *text =
	    template_text(template_dir, organization, kind, &file, path, sizeof path);
	if (!text)
		return csod_fail(err, "no mail template for '%s'", kind);
	char *rendered = substitute(text, vars);
	free(file);
	if (!rendered)
		return csod_fail(err, "out of memory");
	const char *nl = strchr(rendered, '\n');
	if (strncmp(rendered, "Subject:", 8) != 0 || !nl) {
		free(rendered);
		return csod_fail(err, "%s: the first line must be \"Subject: ...\"", path);
	}
	const char *s = rendered + 8;
	while (*s == ' ')
		s++;
	*subject = strndup(s, (size_t)(nl - s));
	*body = strdup(nl + 1);
	free(rendered);
	if (!*subject || !*body)
		return csod_fail(err, "out of memory");
	/* A header is one line: what a template holds there (a CR before its
	 * newline, a tab) becomes a space. */
	for (char *c = *subject; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7F)
			*c = ' ';
	return 0;
}

/* RFC 2047: a non-ASCII subject as one or more base64 encoded-words. */
static char *encode_subject(const char *subject)
{
	int ascii = 1;
	for (const unsigned char *p = (const unsigned char *)subject; *p; p++)
		if (*p >= 0x80 || *p < 0x20)
			ascii = 0;
	if (ascii)
		return strdup(subject);
	size_t len = strlen(subject);
	char *out = malloc(len * 2 + 64 * (len / 30 + 1));
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		/* At most 30 bytes per word, never splitting a UTF-8 sequence. */
		size_t n = len - i < 30 ? len - i : 30;
		while (n < len - i && ((unsigned char)subject[i + n] & 0xC0) == 0x80)
			n--;
		unsigned char b64[64];
		int b = EVP_EncodeBlock(b64, (const unsigned char *)subject + i, (int)n);
		o += (size_t)sprintf(out + o, "%s=?UTF-8?B?%.*s?=", i ? "\r\n " : "", b, b64);
		i += n;
	}
	return out;
}

/* A header value may not end its line: CR or LF there would start headers
 * of the value's choosing (a Bcc:, say). */
static int one_line(const char *value)
{
	return !strpbrk(value, "\r\n");
}

/* The host's name as a Message-ID's right side (RFC 5322 3.6.4 suggests
 * it): letters, digits, hyphens and inner dots, or "localhost". */
static void host_part(char *out, size_t len)
{
	if (gethostname(out, len) < 0)
		out[0] = '\0';
	out[len - 1] = '\0';
	int ok = out[0] != '\0' && out[0] != '.';
	for (const char *p = out; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		     (*p >= '0' && *p <= '9') || *p == '-' || (*p == '.' && p[1] && p[1] != '.');
	if (!ok)
		snprintf(out, len, "localhost");
}

void csod_mail_stamp(char date[64], char message_id[128])
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, 64, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	unsigned char rnd[8];
	RAND_bytes(rnd, sizeof rnd);
	char host[64];
	host_part(host, sizeof host);
	snprintf(message_id, 128, "<%ld.%02x%02x%02x%02x%02x%02x%02x%02x@%s>", (long)now, rnd[0],
	         rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], host);
}

char *csod_mail_format(const char *from, const char *to, const char *subject, const char *date,
                       const char *message_id, const char *body)
{
	if (!one_line(from) || !one_line(to) || !one_line(subject) || !one_line(date) ||
	    !one_line(message_id))
		return NULL;
	char *subj = encode_subject(subject);
	if (!subj)
		return NULL;
	/* Bodies use CRLF line ends, as RFC 5322 requires. */
	size_t cap = strlen(body) * 2 + strlen(subj) + strlen(from) + strlen(to) + strlen(date) +
	             strlen(message_id) + 512;
	char *msg = malloc(cap);
	if (msg) {
		int n =
		    snprintf(msg, cap,
		             "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n"
		             "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
		             "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n"
		             "\r\n",
		             date, from, to, subj, message_id);
		size_t o = (size_t)n;
		for (const char *p = body; *p && o + 3 < cap; p++) {
			if (*p == '\r' && p[1] != '\n')
				continue; /* a bare CR ends no line */
			if (*p == '\n' && (p == body || p[-1] != '\r'))
				msg[o++] = '\r';
			msg[o++] = *p;
		}
		msg[o] = '\0';
	}
	free(subj);
	return msg;
}

enum csod_mail_result csod_mail_send_spool(const char *spool, const char *message, csod_error *err)
{
	char dest[4096], tmp[4096];
	unsigned char rnd[4];
	RAND_bytes(rnd, sizeof rnd);
	if (csod_path(dest, sizeof dest, "%s/mail/%ld-%02x%02x%02x%02x.eml", spool,
	              (long)time(NULL), rnd[0], rnd[1], rnd[2], rnd[3]) < 0 ||
	    csod_path(tmp, sizeof tmp, "%s/tmp", spool) < 0) {
		csod_fail(err, "%s: spool path too long", spool);
		return CSOD_MAIL_RETRY;
	}
	return csod_write_file_atomic(tmp, dest, message, strlen(message), 0640, err) == 0
	           ? CSOD_MAIL_SENT
	           : CSOD_MAIL_RETRY;
}

void csod_mail_template_dir(const csod_config *cfg, char *out, size_t len)
{
	if (cfg->mail.templates) {
		snprintf(out, len, "%s", cfg->mail.templates);
		return;
	}
	char copy[PATH_MAX];
	snprintf(copy, sizeof copy, "%s", cfg->path ? cfg->path : ".");
	snprintf(out, len, "%s/templates", dirname(copy));
}
