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
#include "../signers/signer.h"
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

static void enqueue(csod_db *db, const csod_config *cfg, const char *kind, const char *organization,
                    const char *to, const char *const *vars)
{
	char dir[PATH_MAX];
	csod_mail_template_dir(cfg, dir, sizeof dir);
	char *subject = NULL, *body = NULL;
	csod_error err;
	const char *request_id = NULL;
	if (csod_mail_render_for(dir, organization, kind, vars, &subject, &body, &err) < 0 ||
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
			enqueue(db, cfg, kind, organization, a->email, vars);
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
static void add(csod_notice **out, const csod_config *cfg, const csod_request *r, const char *kind,
                const char *to, const char *const *vars)
{
	char dir[PATH_MAX], *subject = NULL, *body = NULL;
	csod_mail_template_dir(cfg, dir, sizeof dir);
	csod_error err = {.msg = "out of memory"};
	if (csod_email_check(to, &err) < 0 ||
	    csod_mail_render_for(dir, r->organization, kind, vars, &subject, &body, &err) < 0) {
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
static void shown_in(const csod_config *cfg, const char *outbox_rel, const char *name, char *out,
                     size_t len)
{
	char rel[PATH_MAX];
	out[0] = '\0';
	if (csod_path(rel, sizeof rel, "%s/%s", outbox_rel, name) == 0)
		csod_shared_path(cfg, rel, out, len);
}

const char *csod_request_service_of(const csod_request *r)
{
	if (r->service[0])
		return r->service;
	const char *found = NULL;
	for (int i = 0; i < r->n_files; i++)
		for (int k = 0; csod_signers[k]; k++) {
			if (strcmp(csod_signers[k]->name, r->files[i].engine) != 0)
				continue;
			if (found && strcmp(found, csod_signers[k]->service) != 0)
				return "several services";
			found = csod_signers[k]->service;
		}
	return found ? found : "by file type";
}

/* What an approver decides on, in one line: "version 2.4.1 (authenticode)
 * of app.exe, 2 files, 14 MB", or without a version "app.exe
 * (authenticode), 1 file, 116 KB". */
static void summary(const csod_request *r, const char *service, const char *size, char *out,
                    size_t len)
{
	char files[48];
	snprintf(files, sizeof files, "%d file%s, %s", r->n_files, r->n_files == 1 ? "" : "s",
	         size);
	const char *drop = r->drop_name[0] ? r->drop_name : r->id;
	if (r->version[0])
		snprintf(out, len, "version %s (%s) of %s, %s", r->version, service, drop, files);
	else
		snprintf(out, len, "%s (%s), %s", drop, service, files);
}

csod_notice *csod_notice_build(const csod_daemon *d, const csod_request *r, const char *kind)
{
	return csod_notice_build_with(d->cfg, d->spool, d->db, r, kind);
}

csod_notice *csod_notice_build_with(const csod_config *cfg, const char *spool, csod_db *db,
                                    const csod_request *r, const char *kind)
{
	if (!cfg->mail.transport || strcmp(cfg->mail.transport, "none") == 0)
		return NULL;
	csod_notice *notice = NULL;
	/* Paths as the readers reach them (share_path), not the server's. */
	char outbox[PATH_MAX] = "", approve[PATH_MAX], decline[PATH_MAX], details[PATH_MAX];
	char server[PATH_MAX], rel[128];
	const char *outbox_rel = "";
	if (csod_request_outbox(spool, r, server, sizeof server) == 0) {
		outbox_rel = server + strlen(spool) + 1;
		csod_shared_path(cfg, outbox_rel, outbox, sizeof outbox);
	}
	snprintf(rel, sizeof rel, "approvals/%s.approve", r->id);
	csod_shared_path(cfg, rel, approve, sizeof approve);
	snprintf(rel, sizeof rel, "approvals/%s.decline", r->id);
	csod_shared_path(cfg, rel, decline, sizeof decline);
	snprintf(rel, sizeof rel, "requests/%s/details.json", r->id);
	csod_shared_path(cfg, rel, details, sizeof details);
	/* The status pages (status_page.h), as their readers open them. */
	char status_page[PATH_MAX], waiting_page[PATH_MAX], page_rel[128];
	snprintf(page_rel, sizeof page_rel, "outbox/%s/index.html", r->developer);
	csod_shared_path(cfg, page_rel, status_page, sizeof status_page);
	csod_shared_path(cfg, "requests/index.html", waiting_page, sizeof waiting_page);
	char place[sizeof r->organization + sizeof r->department + 4];
	snprintf(place, sizeof place, "%s%s%s", r->organization, r->department[0] ? " / " : "",
	         r->department);
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
				shown_in(cfg, outbox_rel, csod_escape_to(one, name, sizeof name),
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
		char out[PATH_MAX], chain[PATH_MAX], command[3 * PATH_MAX],
		    first[sizeof r->files[0].name];
		const char *pos = r->files[0].output;
		if (!csod_outputs_next(&pos, first, sizeof first))
			first[0] = '\0';
		shown_in(cfg, outbox_rel, first, out, sizeof out);
		shown_in(cfg, outbox_rel, "chain.pem", chain, sizeof chain);
		if (csod_verify_command(r->files[0].engine, out, chain, command, sizeof command) ==
		    0)
			append(&verify, "%s", command);
	}
	/* What was dropped, for subjects: "app.exe 2.4.1", or "app.exe". */
	char what[sizeof r->drop_name + sizeof r->version + 2];
	snprintf(what, sizeof what, "%s%s%s", r->drop_name[0] ? r->drop_name : r->id,
	         r->version[0] ? " " : "", r->version);
	const char *service = csod_request_service_of(r);
	char request_summary[sizeof r->drop_name + sizeof r->version + 128], n_files[16], size[32];
	int64_t bytes = 0;
	for (int i = 0; i < r->n_files; i++)
		bytes += r->files[i].size;
	csod_size_text(bytes, size, sizeof size);
	summary(r, service, size, request_summary, sizeof request_summary);
	snprintf(n_files, sizeof n_files, "%d", r->n_files);
	const char *vars[] = {
	    "place",
	    place,
	    "status_page",
	    status_page,
	    "waiting_page",
	    waiting_page,
	    "summary",
	    request_summary,
	    "n_files",
	    n_files,
	    "size",
	    size,
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
	    service,
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
		for (int i = 0; i < cfg->n_admins; i++) {
			const csod_admin *a = &cfg->admins[i];
			if (a->email && strcmp(a->user ? a->user : "", r->developer) != 0 &&
			    csod_admin_covers(a, r->organization, r->department))
				add(&notice, cfg, r, kind, a->email, vars);
		}
	} else {
		csod_dev_record dev;
		if (csod_developer_lookup(db, r->developer, &dev) == 0 && dev.email[0])
			add(&notice, cfg, r, kind, dev.email, vars);
	}
	free(files.data);
	free(verify.data);
	return notice;
}

int csod_welcome_queue(const csod_config *cfg, csod_db *db, const csod_dev_record *dev,
                       csod_error *err)
{
	/* As the developer will map them: under share_path when it is set. */
	char inbox[PATH_MAX], outbox[PATH_MAX], page[PATH_MAX], rel[128];
	snprintf(rel, sizeof rel, "inbox/%s", dev->user);
	csod_shared_path(cfg, rel, inbox, sizeof inbox);
	snprintf(rel, sizeof rel, "outbox/%s", dev->user);
	csod_shared_path(cfg, rel, outbox, sizeof outbox);
	snprintf(rel, sizeof rel, "outbox/%s/index.html", dev->user);
	csod_shared_path(cfg, rel, page, sizeof page);
	const char *vars[] = {"name",
	                      dev->name[0] ? dev->name : dev->user,
	                      "user",
	                      dev->user,
	                      "organization",
	                      dev->organization,
	                      "department",
	                      dev->department,
	                      "share",
	                      cfg->share_path ? cfg->share_path : cfg->spool,
	                      "inbox",
	                      inbox,
	                      "outbox",
	                      outbox,
	                      "status_page",
	                      page,
	                      NULL};
	char dir[PATH_MAX], *subject = NULL, *body = NULL;
	csod_mail_template_dir(cfg, dir, sizeof dir);
	int rc = csod_email_check(dev->email, err) < 0 ||
	                 csod_mail_render_for(dir, dev->organization, "welcome", vars, &subject,
	                                      &body, err) < 0 ||
	                 csod_mail_enqueue(db, "welcome", NULL, dev->email, subject, body, err) < 0
	             ? -1
	             : 0;
	free(subject);
	free(body);
	return rc;
}
