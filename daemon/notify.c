/* Builds the mail about a request and queues it. Rendering uses the
 * templates in <config dir>/templates/ (etc/templates/ in the source tree),
 * with built-in fallbacks; the mailer thread delivers. */
#include "notify.h"

#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "../lib/text.h"
#include "check_verdicts.h"
#include "developers.h"
#include "email_address.h"
#include "mail.h"
#include "roles.h"
#include "outputs.h"
#include "request_paths.h"

typedef struct text_buf {
	char *data;
	size_t len, cap;
} text_buf;

static void append(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(text_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = (b->len + (size_t)n + 1) * 2;
		char *grown = realloc(b->data, cap);
		if (!grown)
			return;
		b->data = grown;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void template_dir(const csod_config *cfg, char *out, size_t len)
{
	char copy[PATH_MAX];
	snprintf(copy, sizeof copy, "%s", cfg->path ? cfg->path : ".");
	snprintf(out, len, "%s/templates", dirname(copy));
}

static void enqueue(csod_db *db, const csod_config *cfg, const char *kind, const char *request_id,
                    const char *to, const char *const *vars)
{
	char dir[PATH_MAX];
	template_dir(cfg, dir, sizeof dir);
	char *subject = NULL, *body = NULL;
	csod_error err;
	if (csod_mail_render(dir, kind, vars, &subject, &body, &err) < 0 ||
	    csod_mail_enqueue(db, kind, request_id, to, subject, body, &err) < 0)
		csod_log(LOG_ERR, request_id, "cannot queue the %s mail to %s: %s", kind, to,
		         err.msg);
	free(subject);
	free(body);
}

void csod_notify_admins(csod_db *db, const csod_config *cfg, const char *kind,
                        const char *organization, const char *department, const char *const *vars)
{
	if (!cfg->mail.transport || strcmp(cfg->mail.transport, "none") == 0)
		return;
	for (int i = 0; i < cfg->n_admins; i++) {
		const csod_admin *a = &cfg->admins[i];
		if (a->email && csod_admin_covers(a, organization, department))
			enqueue(db, cfg, kind, NULL, a->email, vars);
	}
}

struct csod_notice {
	int n;
	struct notice_mail {
		char *kind, *request_id, *to, *subject, *body;
	} mail[];
};

/* Renders one message into *out (grown by one), or logs why not: a
 * template that does not render or an address that was never valid must
 * not hold up the state change it announces. */
static void add(csod_notice **out, const csod_daemon *d, const csod_request *r, const char *kind,
                const char *to, const char *const *vars)
{
	char dir[PATH_MAX], *subject = NULL, *body = NULL;
	template_dir(d->cfg, dir, sizeof dir);
	csod_error err = {.msg = "out of memory"};
	if (csod_email_check(to, &err) < 0 ||
	    csod_mail_render(dir, kind, vars, &subject, &body, &err) < 0) {
		csod_log(LOG_ERR, r->id, "cannot queue the %s mail to %s: %s", kind, to, err.msg);
		return;
	}
	int n = *out ? (*out)->n : 0;
	csod_notice *grown = realloc(*out, sizeof *grown + sizeof grown->mail[0] * (size_t)(n + 1));
	if (!grown) {
		csod_log(LOG_ERR, r->id, "cannot queue the %s mail to %s: %s", kind, to, err.msg);
		free(subject);
		free(body);
		return;
	}
	struct notice_mail *m = &grown->mail[n];
	m->kind = strdup(kind);
	m->request_id = strdup(r->id);
	m->to = strdup(to);
	m->subject = subject;
	m->body = body;
	grown->n = n + 1;
	*out = grown;
}

int csod_notice_queue(csod_db *db, const csod_notice *n, csod_error *err)
{
	for (int i = 0; n && i < n->n; i++) {
		const struct notice_mail *m = &n->mail[i];
		if (!m->kind || !m->request_id || !m->to)
			return csod_fail(err, "out of memory");
		if (csod_mail_enqueue(db, m->kind, m->request_id, m->to, m->subject, m->body, err) <
		    0)
			return -1;
	}
	return 0;
}

int csod_notice_count(const csod_notice *n)
{
	return n ? n->n : 0;
}

void csod_notice_free(csod_notice *n)
{
	for (int i = 0; n && i < n->n; i++) {
		free(n->mail[i].kind);
		free(n->mail[i].request_id);
		free(n->mail[i].to);
		free(n->mail[i].subject);
		free(n->mail[i].body);
	}
	free(n);
}

/* name inside the request's outbox folder (outbox_rel, spool-relative), as
 * the developer reaches it: with share_path's separator throughout. */
static void shown_in(const csod_daemon *d, const char *outbox_rel, const char *name, char *out,
                     size_t len)
{
	char rel[PATH_MAX];
	out[0] = '\0';
	if (csod_path(rel, sizeof rel, "%s/%s", outbox_rel, name) == 0)
		csod_shared_path(d->cfg, rel, out, len);
}

csod_notice *csod_notice_build(const csod_daemon *d, const csod_request *r, const char *kind)
{
	if (!d->cfg->mail.transport || strcmp(d->cfg->mail.transport, "none") == 0)
		return NULL;
	csod_notice *notice = NULL;
	/* Paths as the readers reach them (share_path), not the server's. */
	char outbox[PATH_MAX] = "", approve[PATH_MAX], decline[PATH_MAX], details[PATH_MAX];
	char server[PATH_MAX], rel[128];
	const char *outbox_rel = "";
	if (csod_request_outbox(d->spool, r, server, sizeof server) == 0) {
		outbox_rel = server + strlen(d->spool) + 1;
		csod_shared_path(d->cfg, outbox_rel, outbox, sizeof outbox);
	}
	snprintf(rel, sizeof rel, "approvals/%s.approve", r->id);
	csod_shared_path(d->cfg, rel, approve, sizeof approve);
	snprintf(rel, sizeof rel, "approvals/%s.decline", r->id);
	csod_shared_path(d->cfg, rel, decline, sizeof decline);
	snprintf(rel, sizeof rel, "requests/%s/details.json", r->id);
	csod_shared_path(d->cfg, rel, details, sizeof details);
	char expires[32], created[32], checks[600];
	csod_verdicts_line(r, checks, sizeof checks);
	csod_iso_time(r->expires, expires);
	csod_iso_time(r->created, created);

	text_buf files = {0}, verify = {0};
	for (int i = 0; i < r->n_files; i++) {
		const csod_file *f = &r->files[i];
		/* The list keeps its newlines (mail_render.c): each name is
		 * escaped here, so none can start a line of its own. */
		char name[4 * sizeof f->name + 1], path[PATH_MAX], one[sizeof f->name];
		if (strcmp(kind, "signed") == 0 && f->output[0]) {
			const char *pos = f->output;
			while (csod_outputs_next(&pos, one, sizeof one)) {
				shown_in(d, outbox_rel, csod_escape_to(one, name, sizeof name),
				         path, sizeof path);
				append(&files, "  %s\n", path);
			}
		} else
			append(&files,
			       "  %s (%lld bytes)\n    MD5 %s\n    SHA-1 %s\n    SHA-256 %s\n",
			       csod_escape_to(f->name, name, sizeof name), (long long)f->size,
			       f->md5, f->sha1, f->sha256);
	}
	if (r->n_files > 0 && strcmp(kind, "signed") == 0) {
		/* Quoted: the folder's name holds spaces. */
		const char *engine = r->files[0].engine;
		char out[PATH_MAX], chain[PATH_MAX], first[sizeof r->files[0].name];
		const char *pos = r->files[0].output;
		if (!csod_outputs_next(&pos, first, sizeof first))
			first[0] = '\0';
		shown_in(d, outbox_rel, first, out, sizeof out);
		shown_in(d, outbox_rel, "chain.pem", chain, sizeof chain);
		if (strcmp(engine, "hash") == 0)
			append(&verify,
			       "openssl cms -verify -binary -inform DER -in \"%s\" -content "
			       "<your file> -CAfile \"%s\" -purpose any",
			       out, chain);
		else if (strcmp(engine, "jar") == 0)
			append(&verify, "jarsigner -verify -strict \"%s\"", out);
		else if (strcmp(engine, "apk") == 0)
			append(&verify, "apksigner verify -v \"%s\"", out);
		else
			append(&verify, "osslsigncode verify -CAfile \"%s\" -in \"%s\"", chain,
			       out);
	}
	/* What was dropped, for subjects: "app.exe 2.4.1", or "app.exe". */
	char what[sizeof r->drop_name + sizeof r->version + 2];
	snprintf(what, sizeof what, "%s%s%s", r->drop_name[0] ? r->drop_name : r->id,
	         r->version[0] ? " " : "", r->version);
	const char *vars[] = {
	    "id",
	    r->id,
	    "what",
	    what,
	    "developer",
	    r->developer,
	    "organization",
	    r->organization,
	    "department",
	    r->department,
	    "version",
	    r->version[0] ? r->version : "(none)",
	    "service",
	    r->service[0] ? r->service : "by file type",
	    "digests",
	    r->digests,
	    "created",
	    created,
	    "files",
	    files.data ? files.data : "",
	    "outbox",
	    outbox,
	    "expires",
	    expires,
	    "verify",
	    verify.data ? verify.data : "",
	    "approver",
	    r->approver,
	    "message",
	    r->message[0] ? r->message : "(none)",
	    "error",
	    r->error,
	    "approve_marker",
	    approve,
	    "decline_marker",
	    decline,
	    "details",
	    details,
	    "checks",
	    checks,
	    NULL,
	};
	if (strcmp(kind, "approval_needed") == 0) {
		for (int i = 0; i < d->cfg->n_admins; i++) {
			const csod_admin *a = &d->cfg->admins[i];
			if (a->email && strcmp(a->user ? a->user : "", r->developer) != 0 &&
			    csod_admin_covers(a, r->organization, r->department))
				add(&notice, d, r, kind, a->email, vars);
		}
	} else {
		csod_dev_record dev;
		if (csod_developer_lookup(d->db, r->developer, &dev) == 0 && dev.email[0])
			add(&notice, d, r, kind, dev.email, vars);
	}
	free(files.data);
	free(verify.data);
	return notice;
}
