/* The HTML of the status pages (status_page.h): one self-contained file
 * each, inline CSS, no script, nothing fetched from elsewhere. Every value
 * from outside goes through csod_html_escape (text and attributes) or
 * csod_url_escape (links), never straight into the page. */
#include "status_page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/fsutil.h"
#include "../lib/text.h"
#include "check_verdicts.h"
#include "developers.h"
#include "notify.h"
#include "outputs.h"
#include "progress.h"
#include "request.h"
#include "request_paths.h"
#include "roles.h"

#define PAGE_MAX_REQUESTS 200
/* The approvers' page lists this many (the oldest); its count says how
 * many wait in all, `csodctl request list --state created` lists them. */
#define PAGE_MAX_WAITING 500

static const char style[] =
    "body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;"
    "color:#1d2330;background:#f6f7f9}"
    "h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.15em;margin:0}"
    ".meta{color:#5b6475;font-size:.9em}"
    ".req{background:#fff;border:1px solid #d8dce3;border-radius:8px;padding:1em 1.2em;"
    "margin:1em 0}"
    ".state{display:inline-block;border-radius:4px;padding:.05em .5em;font-weight:600;"
    "font-size:.85em;margin-left:.5em;vertical-align:middle;background:#e4e7ec}"
    ".s-signed{background:#d3f2dc;color:#14532d}.s-failed,.s-declined{background:#fbd5d5;"
    "color:#7f1d1d}.s-created{background:#fdf0c4;color:#713f12}"
    ".s-receiving,.s-signing,.s-in_progress,.s-approved{background:#d6e6fb;color:#1e3a8a}"
    "ol.time{margin:.6em 0;padding-left:1.4em}ol.time li{margin:.15em 0}"
    "table{border-collapse:collapse;margin:.5em 0;width:100%}"
    "th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #e4e7ec;"
    "vertical-align:top}th{font-size:.85em;color:#5b6475}"
    "code,pre{font:13px/1.4 ui-monospace,monospace;background:#f0f2f5;border-radius:4px}"
    "code{padding:.05em .3em}pre{padding:.6em;white-space:pre-wrap;word-break:break-all}"
    ".error{background:#fdecec;border:1px solid #f5b5b5}"
    "progress{width:20em;vertical-align:middle}.hash{font-size:12px;word-break:break-all}";

/* Escaped text of s into f; a value that cannot be escaped (out of
 * memory) fails the page rather than show it raw. */
static void text(FILE *f, int *failed, const char *s)
{
	char *shown = csod_html_escape(s ? s : "");
	if (!shown) {
		*failed = 1;
		return;
	}
	fputs(shown, f);
	free(shown);
}

static void link_part(FILE *f, int *failed, const char *s)
{
	char *shown = csod_url_escape(s);
	if (!shown) {
		*failed = 1;
		return;
	}
	fputs(shown, f); /* only letters, digits, - . _ ~ and %XX */
	free(shown);
}

/* A page's stream (its text lands in *buf when it is closed: finish) with
 * the page's head written; NULL when out of memory. */
static FILE *head(char **buf, size_t *len, int *failed, const char *title, int64_t now)
{
	*buf = NULL;
	*failed = 0;
	FILE *f = open_memstream(buf, len);
	if (!f)
		return NULL;
	char at[32];
	csod_iso_time(now, at);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width\">\n"
	      "<meta http-equiv=\"refresh\" content=\"30\">\n<title>",
	      f);
	text(f, failed, title);
	fprintf(f, "</title>\n<style>%s</style></head>\n<body>\n<h1>", style);
	text(f, failed, title);
	fprintf(f,
	        "</h1>\n<p class=\"meta\">Written by csod at %s (UTC); the page is rewritten "
	        "whenever a request changes.</p>\n",
	        at);
	return f;
}

static void size_text(FILE *f, int64_t bytes)
{
	char s[32];
	csod_size_text(bytes, s, sizeof s);
	fputs(s, f);
}

static void progress_line(FILE *f, int *failed, const csod_progress_info *p)
{
	fprintf(f, "<p class=\"progress\">");
	text(f, failed, p->phase);
	fprintf(f, " <progress value=\"%lld\" max=\"%lld\"></progress> ", (long long)p->done,
	        (long long)(p->total > 0 ? p->total : 1));
	size_text(f, p->done);
	fputs(" of ", f);
	size_text(f, p->total);
	fputs("</p>\n", f);
}

/* Work in progress of one developer, found by id while the page is built. */
typedef struct progress_list {
	csod_progress_info *items;
	int n;
} progress_list;

static void collect_progress(void *ctx, const csod_progress_info *p)
{
	progress_list *l = ctx;
	csod_progress_info *grown = realloc(l->items, sizeof *grown * (size_t)(l->n + 1));
	if (!grown)
		return;
	l->items = grown;
	l->items[l->n++] = *p;
}

static const csod_progress_info *progress_of(const progress_list *l, const char *id)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->items[i].id, id) == 0)
			return &l->items[i];
	return NULL;
}

static void time_item(FILE *f, int *failed, const char *what, int64_t t, const char *rest)
{
	char at[32];
	csod_iso_time(t, at);
	fprintf(f, "<li>%s <span class=\"meta\">%s</span>", what, at);
	if (rest) {
		fputs(" ", f);
		text(f, failed, rest);
	}
	fputs("</li>\n", f);
}

/* created -> approved by whom with the message -> signed -> expires. */
static void time_line(FILE *f, int *failed, const csod_request *r, int64_t now)
{
	fputs("<ol class=\"time\">\n", f);
	time_item(f, failed, "created", r->created, NULL);
	int declined = strcmp(r->state, "declined") == 0;
	if (r->approver[0] && (r->approved || declined)) {
		fprintf(f, "<li>%s by <b>", declined ? "declined" : "approved");
		text(f, failed, r->approver);
		fputs("</b>", f);
		if (r->approved) {
			char at[32];
			csod_iso_time(r->approved, at);
			fprintf(f, " <span class=\"meta\">%s</span>", at);
		}
		if (r->message[0]) {
			fputs(": &ldquo;", f);
			text(f, failed, r->message);
			fputs("&rdquo;", f);
		}
		fputs("</li>\n", f);
	}
	if (r->signed_at)
		time_item(f, failed, "signed", r->signed_at, NULL);
	if (r->expires && strcmp(r->state, "signed") == 0) {
		int64_t left = r->expires - now;
		char in[64];
		if (left <= 0)
			snprintf(in, sizeof in, "(due for removal)");
		else if (left < 3600)
			snprintf(in, sizeof in, "(in less than an hour)");
		else
			snprintf(in, sizeof in, "(in %lld hours)",
			         (long long)((left + 1799) / 3600));
		time_item(f, failed, "expires", r->expires, in);
	} else if (strcmp(r->state, "expired") == 0) {
		time_item(f, failed, "expired: the signed files were removed", r->updated, NULL);
	}
	if (strcmp(r->state, "failed") == 0)
		time_item(f, failed, "failed", r->updated, NULL);
	fputs("</ol>\n", f);
}

static void files_table(FILE *f, int *failed, const csod_daemon *d, const csod_request *r,
                        const char *folder)
{
	int is_signed = strcmp(r->state, "signed") == 0;
	fputs("<table><tr><th>file</th><th>size</th><th>SHA-256 (as submitted)</th>"
	      "<th>signed file</th></tr>\n",
	      f);
	for (int i = 0; i < r->n_files; i++) {
		const csod_file *file = &r->files[i];
		fputs("<tr><td>", f);
		text(f, failed, file->name);
		fputs("</td><td>", f);
		size_text(f, file->size);
		fputs("</td><td class=\"hash\">", f);
		text(f, failed, file->sha256);
		fputs("</td><td>", f);
		if (is_signed && file->output[0]) {
			/* Each of its outputs (outputs.h: a list's signatures, a
			 * detached .sig), relative to this page: <folder>/<file>,
			 * each part encoded. */
			char one[sizeof file->name];
			const char *pos = file->output;
			for (int k = 0; csod_outputs_next(&pos, one, sizeof one); k++) {
				fputs(k ? "<br>" : "", f);
				fputs("<a href=\"", f);
				link_part(f, failed, folder);
				fputs("/", f);
				link_part(f, failed, one);
				fputs("\">", f);
				text(f, failed, one);
				fputs("</a>", f);
			}
		} else {
			fputs("&ndash;", f);
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
	if (!is_signed || r->n_files == 0)
		return;
	/* Paths as the developer reaches them (share_path). */
	fputs("<p>Verify:</p>\n<pre>", f);
	char rel[PATH_MAX], chain[PATH_MAX], out[PATH_MAX], command[3 * PATH_MAX];
	csod_path(rel, sizeof rel, "outbox/%s/%s/chain.pem", r->developer, folder);
	csod_shared_path(d->cfg, rel, chain, sizeof chain);
	for (int i = 0; i < r->n_files; i++) {
		/* The first output is the signed file (a .sig follows it). */
		char first[sizeof r->files[i].name];
		const char *pos = r->files[i].output;
		if (!csod_outputs_next(&pos, first, sizeof first) ||
		    csod_path(rel, sizeof rel, "outbox/%s/%s/%s", r->developer, folder, first) < 0)
			continue;
		csod_shared_path(d->cfg, rel, out, sizeof out);
		if (csod_verify_command(r->files[i].engine, out, chain, command, sizeof command) ==
		    0) {
			text(f, failed, command);
			fputs("\n", f);
		}
	}
	fputs("</pre>\n", f);
}

static void request_section(FILE *f, int *failed, const csod_daemon *d, const csod_request *r,
                            const void *ctx, int64_t now)
{
	const progress_list *work = ctx;
	char outbox[PATH_MAX];
	const char *folder = "";
	if (csod_request_outbox(d->spool, r, outbox, sizeof outbox) == 0 && strrchr(outbox, '/'))
		folder = strrchr(outbox, '/') + 1;
	const csod_progress_info *p = progress_of(work, r->id);
	const char *state = p ? p->phase : r->state;
	fprintf(f, "<section class=\"req\" id=\"r-%s\">\n<h2>", r->id);
	text(f, failed, r->drop_name);
	if (r->version[0]) {
		fputs(" <span class=\"meta\">version</span> ", f);
		text(f, failed, r->version);
	}
	fputs("<span class=\"state s-", f);
	text(f, failed, state);
	fputs("\">", f);
	text(f, failed, state);
	fputs("</span></h2>\n<p class=\"meta\">request ", f);
	text(f, failed, r->id);
	fputs(" &middot; ", f);
	text(f, failed, csod_request_service_of(r));
	fputs(" &middot; ", f);
	text(f, failed, r->digests);
	fputs("</p>\n", f);
	if (p)
		progress_line(f, failed, p);
	time_line(f, failed, r, now);
	if (strcmp(r->state, "failed") == 0) {
		/* The error in full: it names the file and says why. */
		fputs("<pre class=\"error\">", f);
		text(f, failed, r->error);
		fputs("</pre>\n", f);
	}
	files_table(f, failed, d, r, folder);
	fputs("</section>\n", f);
}

typedef struct id_list {
	char (*ids)[32];
	int n;
} id_list;

static void add_id(void *ctx, const char *id)
{
	id_list *l = ctx;
	char(*grown)[32] = realloc(l->ids, sizeof *grown * (size_t)(l->n + 1));
	if (!grown)
		return;
	l->ids = grown;
	snprintf(l->ids[l->n++], sizeof l->ids[0], "%s", id);
}

/* Shows each request of ids with show; one that cannot be loaded fails the
 * page (a view is never silently short of a request). */
static void show_each(FILE *f, int *failed, const csod_daemon *d, const id_list *ids,
                      void (*show)(FILE *f, int *failed, const csod_daemon *d,
                                   const csod_request *r, const void *ctx, int64_t now),
                      const void *ctx, int64_t now)
{
	for (int i = 0; i < ids->n; i++) {
		csod_request r;
		if (csod_request_load(d->db, ids->ids[i], &r) != 0) {
			*failed = 1;
			continue;
		}
		show(f, failed, d, &r, ctx, now);
		csod_request_free(&r);
	}
}

/* Closes the stream (which sets *buf): the page, or NULL when any part
 * failed. */
static char *finish(FILE *f, char **buf, int failed)
{
	fputs("</body></html>\n", f);
	if (fclose(f) != 0 || failed) {
		free(*buf);
		return NULL;
	}
	return *buf;
}

char *csod_page_developer(const csod_daemon *d, const char *developer, int64_t now)
{
	char *buf, title[128];
	size_t len;
	int failed;
	snprintf(title, sizeof title, "csod: requests of %s", developer);
	FILE *f = head(&buf, &len, &failed, title, now);
	if (!f)
		return NULL;
	progress_list work = {0};
	csod_progress_each(developer, collect_progress, &work);
	/* Drops still being received have no request record yet. */
	for (int i = 0; i < work.n; i++) {
		if (strcmp(work.items[i].phase, "receiving") != 0)
			continue;
		fprintf(f, "<section class=\"req\" id=\"r-%s\">\n<h2>", work.items[i].id);
		text(f, &failed, work.items[i].drop);
		fputs("<span class=\"state s-receiving\">receiving</span></h2>\n", f);
		progress_line(f, &failed, &work.items[i]);
		fputs("</section>\n", f);
	}
	id_list ids = {0};
	csod_stmt *st = csod_db_prepare(
	    d->db, "SELECT id FROM requests WHERE developer = ? ORDER BY id DESC LIMIT ?", NULL);
	csod_db_bind_text(st, 1, developer);
	csod_db_bind_int(st, 2, PAGE_MAX_REQUESTS);
	while (st && csod_db_step(st) == CSOD_DB_ROW)
		add_id(&ids, csod_db_text(st, 0));
	csod_db_finalize(st);
	if (!st)
		failed = 1;
	if (ids.n == 0 && work.n == 0)
		fputs("<p>No requests yet. Copy files into your inbox to have them signed.</p>\n",
		      f);
	show_each(f, &failed, d, &ids, request_section, &work, now);
	free(ids.ids);
	free(work.items);
	return finish(f, &buf, failed);
}

static void waiting_row(FILE *f, int *failed, const csod_daemon *d, const csod_request *r,
                        const void *ctx, int64_t now)
{
	(void)d;
	const char *up = ctx; /* from the page's folder to requests/ */
	int64_t total = 0;
	for (int i = 0; i < r->n_files; i++)
		total += r->files[i].size;
	char created[32];
	csod_iso_time(r->created, created);
	fprintf(f, "<tr><td><a href=\"%s", up);
	link_part(f, failed, r->id);
	fputs("/details.json\">", f);
	text(f, failed, r->id);
	fputs("</a></td><td>", f);
	text(f, failed, r->developer);
	fputs("</td><td>", f);
	text(f, failed, r->organization);
	if (r->department[0]) {
		fputs(" / ", f);
		text(f, failed, r->department);
	}
	fputs("</td><td>", f);
	text(f, failed, r->drop_name);
	fputs("</td><td>", f);
	text(f, failed, r->version[0] ? r->version : "-");
	fputs("</td><td>", f);
	text(f, failed, csod_request_service_of(r));
	fprintf(f, "</td><td>%d, ", r->n_files);
	size_text(f, total);
	fprintf(f, "</td><td>%s<br><span class=\"meta\">%lld min ago</span></td>", created,
	        (long long)((now - r->created) / 60));
	char checks[600];
	csod_verdicts_line(r, checks, sizeof checks);
	/* The summary is one of the daemon's own words; anything else shows
	 * as "none" rather than reach the attribute. */
	static const char *const summaries[] = {"pending", "pass", "fail", "hold"};
	const char *summary = "none";
	for (size_t i = 0; i < sizeof summaries / sizeof summaries[0]; i++)
		if (strcmp(r->checks, summaries[i]) == 0)
			summary = summaries[i];
	fprintf(f, "<td class=\"checks-%s\">", summary);
	text(f, failed, checks);
	fputs("</td><td><code>csodctl request approve ", f);
	text(f, failed, r->id);
	fputs(" -m &quot;...&quot;</code></td></tr>\n", f);
}

/* The waiting requests in the scope of who (all of them for NULL), oldest
 * first; filtered on the row's place before any request is loaded. */
static int waiting_for(const csod_daemon *d, const csod_admin *who, id_list *ids)
{
	csod_stmt *st = csod_db_prepare(d->db,
	                                "SELECT id, organization, department FROM requests "
	                                "WHERE state = 'created' ORDER BY created, id",
	                                NULL);
	if (!st)
		return -1;
	while (csod_db_step(st) == CSOD_DB_ROW)
		if (!who || csod_admin_covers(who, csod_db_text(st, 1), csod_db_text(st, 2)))
			add_id(ids, csod_db_text(st, 0));
	csod_db_finalize(st);
	return 0;
}

/* The overview's links to each approver's own page. */
static void approver_links(FILE *f, int *failed, const csod_daemon *d)
{
	int any = 0;
	for (int i = 0; i < d->cfg->n_admins; i++) {
		const csod_admin *a = &d->cfg->admins[i];
		if (a->uid == (uid_t)-1 || !csod_user_name_ok(a->user))
			continue;
		fputs(any ? ", "
		          : "<p>Each approver's own page (what their scope covers, "
		            "readable by them alone): ",
		      f);
		fputs("<a href=\"approvers/", f);
		link_part(f, failed, a->user);
		fputs(".html\">", f);
		text(f, failed, a->user);
		fputs("</a>", f);
		any = 1;
	}
	if (any)
		fputs("</p>\n", f);
}

char *csod_page_approvers(const csod_daemon *d, const csod_admin *who, int64_t now)
{
	char *buf, title[128];
	size_t len;
	int failed;
	if (who)
		snprintf(title, sizeof title, "csod: requests waiting for %s", who->user);
	FILE *f =
	    head(&buf, &len, &failed, who ? title : "csod: requests waiting for approval", now);
	if (!f)
		return NULL;
	id_list ids = {0};
	if (waiting_for(d, who, &ids) < 0)
		failed = 1;
	fprintf(f,
	        "<p>%d request(s) wait%s, oldest first. Approve by creating "
	        "<code>approvals/&lt;id&gt;.approve</code> (its text is your message) or "
	        "with csodctl; the files' hashes are in each request's details.json.</p>\n",
	        ids.n, who ? " in your scope" : "");
	if (!who)
		approver_links(f, &failed, d);
	if (ids.n)
		fputs("<table><tr><th>request</th><th>developer</th><th>organization</th>"
		      "<th>drop</th><th>version</th><th>service</th><th>files</th>"
		      "<th>waiting since</th><th>pre-sign checks</th><th>approve</th></tr>\n",
		      f);
	int all = ids.n;
	if (ids.n > PAGE_MAX_WAITING)
		ids.n = PAGE_MAX_WAITING;
	show_each(f, &failed, d, &ids, waiting_row, who ? "../" : "", now);
	if (ids.n)
		fputs("</table>\n", f);
	if (all > ids.n)
		fprintf(f, "<p>%d more: <code>csodctl request list --state created</code></p>\n",
		        all - ids.n);
	free(ids.ids);
	return finish(f, &buf, failed);
}
