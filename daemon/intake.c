/* From a drop in an inbox to a recorded request.
 *
 * Crash safety rests on one ordering:
 *  1. store/incoming/<id>.meta records who dropped what (written atomically);
 *  2. the drop is renamed out of the inbox to store/incoming/<id> (atomic);
 *  3. its files are copied and hashed into tmp/<id>.intake, then that folder
 *     is renamed to store/<id>;
 *  4. the request is committed to the database;
 *  5. store/incoming/<id> and its .meta are removed.
 * A restart finds .meta files and redoes what is missing from step 3 on, so
 * no drop is lost and none is taken twice. */
#include "intake.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/fsutil.h"
#include "../lib/log.h"
#include "../signers/signer.h"
#include "audit.h"
#include "developers.h"
#include "dispatch.h"
#include "notify.h"

/* Names in a folder drop that are instructions, not files to sign. */
static int is_control_name(const char *name)
{
	return strcmp(name, "READY") == 0 || strcmp(name, "request.conf") == 0;
}

static int add_file(csod_request *r, const char *name, csod_error *err)
{
	csod_file *grown = realloc(r->files, sizeof *grown * (size_t)(r->n_files + 1));
	if (!grown)
		return csod_fail(err, "out of memory");
	r->files = grown;
	csod_file *f = &r->files[r->n_files++];
	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "%s", name);
	return 0;
}

/* Copies one regular file src (inside the renamed drop) to dst_dir/name,
 * refusing what must not be signed. */
static int take_file(csod_daemon *d, csod_request *r, const char *src, const char *name,
                     const char *dst_dir, csod_error *err)
{
	if (strlen(name) >= sizeof r->files[0].name)
		return csod_fail(err, "%.60s...: file name too long", name);
	if (d->cfg->max_request_files > 0 && r->n_files >= d->cfg->max_request_files)
		return csod_fail(err, "%s: more than %lld files in one request", r->drop_name,
		                 (long long)d->cfg->max_request_files);
	int fd = open(src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		if (errno == ELOOP)
			return csod_fail(err, "%s: is a symbolic link; links are not followed",
			                 name);
		return csod_fail_errno(err, "%s: cannot open", name);
	}
	int rc = -1;
	if (fstat(fd, &st) < 0) {
		csod_fail_errno(err, "%s: cannot stat", name);
	} else if (S_ISDIR(st.st_mode)) {
		csod_fail(err, "%s: is a folder inside a folder drop; only one level is taken",
		          name);
	} else if (!S_ISREG(st.st_mode)) {
		csod_fail(err, "%s: is not a regular file (device, FIFO or socket)", name);
	} else if (st.st_nlink > 1) {
		csod_fail(err, "%s: has other hard links; copy the file instead of linking it",
		          name);
	} else if (st.st_size == 0) {
		csod_fail(err, "%s: is empty", name);
	} else if (d->cfg->max_file_size > 0 && st.st_size > d->cfg->max_file_size) {
		csod_fail(err, "%s: is %lld bytes, over max_file_size (%lld)", name,
		          (long long)st.st_size, (long long)d->cfg->max_file_size);
	} else if (add_file(r, name, err) == 0) {
		char dst[PATH_MAX];
		int out = -1;
		if (csod_path(dst, sizeof dst, "%s/%s", dst_dir, name) < 0)
			csod_fail(err, "%s: path too long", name);
		else if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
			csod_fail_errno(err, "%s: cannot create the store copy", name);
		else
			rc = csod_copy_and_hash(fd, out, d->cfg->max_file_size,
			                        &r->files[r->n_files - 1], err);
		if (out >= 0)
			close(out);
	}
	close(fd);
	return rc;
}

static int take_folder(csod_daemon *d, csod_request *r, const char *src, const char *dst_dir,
                       csod_error *err)
{
	char conf[PATH_MAX];
	struct stat st;
	if (csod_path(conf, sizeof conf, "%s/request.conf", src) == 0 && lstat(conf, &st) == 0) {
		if (!S_ISREG(st.st_mode) || st.st_size > 65536)
			return csod_fail(err, "request.conf: not a small regular file");
		if (csod_request_conf_parse(conf, r, err) < 0)
			return -1;
	}
	DIR *dir = opendir(src);
	if (!dir)
		return csod_fail_errno(err, "%s: cannot read the folder", r->drop_name);
	/* Sorted, so that a request's files have a stable order. */
	struct dirent **names = NULL;
	int n = scandir(src, &names, NULL, alphasort);
	closedir(dir);
	if (n < 0)
		return csod_fail_errno(err, "%s: cannot read the folder", r->drop_name);
	int rc = 0;
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		if (rc == 0 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
		    !is_control_name(name)) {
			char path[PATH_MAX];
			if (csod_path(path, sizeof path, "%s/%s", src, name) < 0)
				rc = csod_fail(err, "%s: path too long", name);
			else
				rc = take_file(d, r, path, name, dst_dir, err);
		}
		free(names[i]);
	}
	free(names);
	if (rc == 0 && r->n_files == 0)
		rc = csod_fail(err, "%s: the folder holds no files to sign", r->drop_name);
	return rc;
}

/* Each file must be something its service can sign, and every digest must
 * be one we know: better to say so now than after an approval. */
static int check_signable(csod_request *r, const char *dir, csod_error *err)
{
	char buf[sizeof r->digests];
	snprintf(buf, sizeof buf, "%s", r->digests);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!csod_digest_by_name(tok))
			return csod_fail(err, "unknown digest '%s'", tok);
	for (int i = 0; i < r->n_files; i++) {
		char path[PATH_MAX];
		csod_path(path, sizeof path, "%s/%s", dir, r->files[i].name);
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return csod_fail_errno(err, "%s: cannot open the store copy",
			                       r->files[i].name);
		const csod_signer *s = csod_signer_for(r->service, r->files[i].name, fd, err);
		close(fd);
		if (!s)
			return -1;
		snprintf(r->files[i].engine, sizeof r->files[i].engine, "%s", s->name);
	}
	return 0;
}

static void remove_incoming(csod_daemon *d, const char *id)
{
	char path[PATH_MAX];
	csod_spool_path(d, path, sizeof path, "store/incoming/%s", id);
	csod_rm_rf(path);
	csod_spool_path(d, path, sizeof path, "store/incoming/%s.meta", id);
	unlink(path);
}

/* Steps 3 to 5 for drop `id`, already renamed to store/incoming/<id>. */
static void intake_resume(csod_daemon *d, const char *id, const char *developer, const char *entry)
{
	csod_request r;
	memset(&r, 0, sizeof r);
	snprintf(r.id, sizeof r.id, "%s", id);
	snprintf(r.developer, sizeof r.developer, "%s", developer);
	snprintf(r.drop_name, sizeof r.drop_name, "%s", entry);
	snprintf(r.state, sizeof r.state, "created");
	r.created = r.updated = csod_now();

	csod_error err = {""};
	csod_dev_record dev;
	int known = csod_developer_lookup(d->db, developer, &dev);
	if (known == 0) {
		snprintf(r.organization, sizeof r.organization, "%s", dev.organization);
		snprintf(r.department, sizeof r.department, "%s", dev.department);
		snprintf(r.digests, sizeof r.digests, "%s",
		         dev.digests[0] ? dev.digests : "sha256");
		snprintf(r.service, sizeof r.service, "%s", dev.service);
	} else {
		snprintf(r.digests, sizeof r.digests, "sha256");
		csod_fail(&err, "%s: developer '%s' is not configured", entry, developer);
	}

	char src[PATH_MAX], work[PATH_MAX], store[PATH_MAX];
	csod_spool_path(d, src, sizeof src, "store/incoming/%s", id);
	csod_spool_path(d, work, sizeof work, "tmp/%s.intake", id);
	csod_spool_path(d, store, sizeof store, "store/%s", id);
	/* A crash may have left either; both are rebuilt from the incoming copy. */
	csod_rm_rf(work);
	csod_rm_rf(store);

	struct stat st;
	int rc = err.msg[0] ? -1 : 0;
	if (rc == 0 && csod_mkdir_p(work, 0700, &err) < 0)
		rc = -1;
	if (rc == 0 && lstat(src, &st) < 0)
		rc = csod_fail_errno(&err, "%s: vanished during intake", entry);
	if (rc == 0) {
		if (S_ISDIR(st.st_mode))
			rc = take_folder(d, &r, src, work, &err);
		else
			rc = take_file(d, &r, src, entry, work, &err);
	}
	if (rc == 0 && r.department[0] && known == 0) {
		const csod_organization *org = csod_config_organization(d->cfg, r.organization);
		int found = !org || !org->departments;
		for (int i = 0; org && org->departments && org->departments[i]; i++)
			found |= strcmp(org->departments[i], r.department) == 0;
		if (!found)
			rc = csod_fail(&err, "request.conf: department '%s' is not in %s",
			               r.department, r.organization);
	}
	if (rc == 0)
		rc = check_signable(&r, work, &err);
	if (rc == 0 && rename(work, store) < 0)
		rc = csod_fail_errno(&err, "cannot move %s into the store", entry);
	if (rc < 0) {
		csod_rm_rf(work);
		snprintf(r.state, sizeof r.state, "failed");
		snprintf(r.error, sizeof r.error, "%s", err.msg);
	}

	csod_error dberr;
	if (csod_request_insert(d->db, &r, &dberr) < 0) {
		/* Leave the incoming copy: the next start retries. */
		csod_log(LOG_ERR, id, "%s", dberr.msg);
		csod_request_free(&r);
		return;
	}
	csod_audit(d->db, "csodd", "request.created", id, "%s/%s: %d file(s)%s%s", developer, entry,
	           r.n_files, rc < 0 ? "; failed: " : "", rc < 0 ? r.error : "");
	remove_incoming(d, id);
	csod_log(rc < 0 ? LOG_WARNING : LOG_INFO, id, "request from %s (%s, %d file(s)) %s%s",
	         developer, entry, r.n_files, rc < 0 ? "failed: " : "created",
	         rc < 0 ? r.error : "");
	csod_request_publish_status(d, &r, &dberr);
	csod_request_publish_details(d, &r, &dberr);
	if (rc < 0)
		csod_notify(d, &r, "failed");
	else if (csod_auto_approve_effective(d, r.organization))
		csod_dispatch_approve(d, &r, "auto-approve", "");
	else
		csod_notify(d, &r, "approval_needed");
	csod_request_free(&r);
}

/* An inbox of nobody we know: say so in the outbox of that name, once per
 * change, and leave the files where they are. */
static void report_unknown_inbox(csod_daemon *d, const char *developer, const char *entry)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX], text[512];
	if (!csod_user_name_ok(developer) ||
	    csod_spool_path(d, dir, sizeof dir, "outbox/%s", developer) < 0 ||
	    csod_mkdir_p(dir, 0755, NULL) < 0)
		return;
	snprintf(text, sizeof text,
	         "%s: inbox '%s' belongs to no configured developer; its files were not taken\n",
	         entry, developer);
	csod_path(path, sizeof path, "%s/ERROR", dir);
	csod_spool_path(d, tmp, sizeof tmp, "tmp");
	csod_write_file_atomic(tmp, path, text, strlen(text), 0644, NULL);
	csod_log(LOG_WARNING, NULL, "%.*s", (int)strlen(text) - 1, text);
}

void csod_intake_check_strays(csod_daemon *d)
{
	char inbox[PATH_MAX];
	csod_spool_path(d, inbox, sizeof inbox, "inbox");
	/* Only when inbox/ itself changed (a folder was added): with thousands
	 * of developers, reading it every scan would be the daemon's idle cost. */
	struct stat top_st;
	if (lstat(inbox, &top_st) < 0 ||
	    (top_st.st_mtim.tv_sec == d->inbox_mtime.tv_sec &&
	     top_st.st_mtim.tv_nsec == d->inbox_mtime.tv_nsec && !d->strays_pending))
		return;
	d->inbox_mtime = top_st.st_mtim;
	d->strays_pending = 0;
	DIR *top = opendir(inbox);
	if (!top)
		return;
	struct dirent *e;
	csod_dev_record dev;
	while ((e = readdir(top))) {
		if (e->d_name[0] == '.' || csod_developer_lookup(d->db, e->d_name, &dev) != 1)
			continue;
		/* Newest entry in the stray inbox against the ERROR we wrote. */
		char dir[PATH_MAX], path[PATH_MAX], first[256] = "";
		csod_spool_path(d, dir, sizeof dir, "inbox/%s", e->d_name);
		DIR *dh = opendir(dir);
		if (!dh)
			continue;
		struct dirent *f;
		struct stat st;
		time_t newest = 0;
		while ((f = readdir(dh))) {
			if (f->d_name[0] == '.')
				continue;
			csod_path(path, sizeof path, "%s/%s", dir, f->d_name);
			if (lstat(path, &st) == 0 && st.st_mtime >= newest) {
				newest = st.st_mtime;
				snprintf(first, sizeof first, "%s", f->d_name);
			}
		}
		closedir(dh);
		if (!first[0])
			continue;
		/* A stray inbox with files: look again at the next scan too, so
		 * that new files there are reported. */
		d->strays_pending = 1;
		csod_spool_path(d, path, sizeof path, "outbox/%s/ERROR", e->d_name);
		if (lstat(path, &st) == 0 && st.st_mtime >= newest)
			continue;
		report_unknown_inbox(d, e->d_name, first);
	}
	closedir(top);
}

void csod_intake_drop(csod_daemon *d, const char *developer, const char *entry, int is_dir)
{
	(void)is_dir;
	char src[PATH_MAX];
	if (csod_spool_path(d, src, sizeof src, "inbox/%s/%s", developer, entry) < 0)
		return;
	/* A stray READY at the top level finishes nothing; drop it. */
	if (strcmp(entry, "READY") == 0) {
		unlink(src);
		return;
	}
	csod_dev_record dev;
	if (csod_developer_lookup(d->db, developer, &dev) != 0) {
		report_unknown_inbox(d, developer, entry);
		return;
	}
	char id[32], meta[PATH_MAX], dst[PATH_MAX], tmpdir[PATH_MAX], text[1024];
	struct stat st;
	do {
		csod_request_new_id(id);
		csod_spool_path(d, dst, sizeof dst, "store/%s", id);
	} while (lstat(dst, &st) == 0);
	csod_spool_path(d, meta, sizeof meta, "store/incoming/%s.meta", id);
	csod_spool_path(d, dst, sizeof dst, "store/incoming/%s", id);
	csod_spool_path(d, tmpdir, sizeof tmpdir, "tmp");
	snprintf(text, sizeof text, "%s\n%s\n", developer, entry);
	csod_error err;
	if (csod_write_file_atomic(tmpdir, meta, text, strlen(text), 0600, &err) < 0) {
		csod_log(LOG_ERR, id, "cannot take %s/%s: %s", developer, entry, err.msg);
		return;
	}
	if (rename(src, dst) < 0) {
		int e = errno;
		unlink(meta);
		if (e != ENOENT)
			csod_log(LOG_ERR, id, "cannot take %s/%s: %s", developer, entry,
			         strerror(e));
		return;
	}
	csod_fsync_dir(tmpdir);
	intake_resume(d, id, developer, entry);
}

void csod_intake_recover(csod_daemon *d)
{
	char dir[PATH_MAX];
	csod_spool_path(d, dir, sizeof dir, "store/incoming");
	DIR *dh = opendir(dir);
	if (!dh)
		return;
	struct dirent *e;
	char(*metas)[64] = NULL;
	int n = 0;
	while ((e = readdir(dh))) {
		size_t len = strlen(e->d_name);
		if (len <= 5 || len >= 64 || strcmp(e->d_name + len - 5, ".meta") != 0)
			continue;
		char(*grown)[64] = realloc(metas, sizeof *metas * (size_t)(n + 1));
		if (!grown)
			break;
		metas = grown;
		snprintf(metas[n++], 64, "%.*s", (int)len - 5, e->d_name);
	}
	closedir(dh);
	for (int i = 0; i < n; i++) {
		const char *id = metas[i];
		char meta[PATH_MAX], src[PATH_MAX];
		csod_spool_path(d, meta, sizeof meta, "store/incoming/%s.meta", id);
		csod_spool_path(d, src, sizeof src, "store/incoming/%s", id);
		csod_request existing;
		int have = csod_request_load(d->db, id, &existing);
		csod_request_free(&existing);
		struct stat st;
		char *text = NULL;
		if (have == 0 || lstat(src, &st) < 0 ||
		    csod_read_file(meta, 1024, &text, NULL, NULL)) {
			/* Already recorded, or the rename never happened. */
			remove_incoming(d, id);
			free(text);
			continue;
		}
		char *nl = strchr(text, '\n');
		char *entry = nl ? nl + 1 : NULL;
		char *end = entry ? strchr(entry, '\n') : NULL;
		if (nl && end) {
			*nl = *end = '\0';
			csod_log(LOG_NOTICE, id, "finishing the intake of %s/%s after a restart",
			         text, entry);
			intake_resume(d, id, text, entry);
		}
		free(text);
	}
	free(metas);
}

int csod_auto_approve_effective(csod_daemon *d, const char *organization)
{
	char key[300], value[16];
	snprintf(key, sizeof key, "auto_approve:%s", organization ? organization : "");
	if (organization && csod_db_setting_get(d->db, key, value, sizeof value) == 0)
		return strcmp(value, "on") == 0;
	const csod_organization *org =
	    organization ? csod_config_organization(d->cfg, organization) : NULL;
	if (org && org->auto_approve >= 0)
		return org->auto_approve;
	if (csod_db_setting_get(d->db, "auto_approve", value, sizeof value) == 0)
		return strcmp(value, "on") == 0;
	return d->cfg->auto_approve;
}
