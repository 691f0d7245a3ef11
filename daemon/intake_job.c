/* Intake's file work, on an intake thread: the drop (already renamed out
 * of the inbox) is copied file by file into tmp/<id>.intake while being
 * hashed, each file is checked to be something its service signs, and the
 * folder is renamed to store/<id> in one step. */
#include "intake_job.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/fdtree.h"
#include "../lib/fsutil.h"
#include "../lib/text.h"
#include "../signers/deep/deep_container.h"
#include "../signers/signer.h"
#include "intake.h"
#include "names.h"
#include "outputs.h"
#include "request_paths.h"

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

int csod_drop_owner_check(const struct stat *st, uid_t owner, const char *name,
                          const char *developer, csod_error *err)
{
	/* The daemon's own files are out of every developer's reach, except
	 * root's, when csodd runs as root: those count only if anyone may
	 * read them. (Folders are the daemon's once taken over; the files in
	 * them are checked one by one.) */
	uid_t me = geteuid();
	if (st->st_uid == owner ||
	    (st->st_uid == me && (me != 0 || S_ISDIR(st->st_mode) || (st->st_mode & S_IROTH))))
		return 0;
	/* getpwuid_r: intake threads run side by side. */
	char who[64], buf[4096], shown[CSOD_SHOWN_MAX];
	struct passwd pw, *found = NULL;
	if (getpwuid_r(st->st_uid, &pw, buf, sizeof buf, &found) == 0 && found)
		snprintf(who, sizeof who, "%s", found->pw_name);
	else
		snprintf(who, sizeof who, "uid %u", (unsigned)st->st_uid);
	return csod_fail(err,
	                 "%s: belongs to %s, not to %s; csod takes only what the developer "
	                 "owns (copy it instead of moving it)",
	                 csod_escape_to(name, shown, sizeof shown), who, developer);
}

/* Opens name inside dir_fd (a drop or its folder, still hostile: its
 * builder may be swapping entries) for reading, refusing what must not be
 * signed. Its type is checked before it is opened, so a device or a FIFO
 * is never opened at all, and again after, on the inode actually opened. */
static int open_drop_file(const csod_intake_job *job, int dir_fd, const char *name, struct stat *st,
                          csod_error *err)
{
	struct stat before;
	if (fstatat(dir_fd, name, &before, AT_SYMLINK_NOFOLLOW) < 0)
		return csod_fail_errno(err, "%s: cannot stat", name);
	if (S_ISLNK(before.st_mode))
		return csod_fail(err, "%s: is a symbolic link; links are not followed", name);
	if (S_ISDIR(before.st_mode))
		return csod_fail(
		    err, "%s: is a folder inside a folder drop; only one level is taken", name);
	if (!S_ISREG(before.st_mode))
		return csod_fail(err, "%s: is not a regular file (device, FIFO or socket)", name);
	if (csod_drop_owner_check(&before, job->owner, name, job->r.developer, err) < 0)
		return -1;
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			return csod_fail(err, "%s: is a symbolic link; links are not followed",
			                 name);
		return csod_fail_errno(err, "%s: cannot open", name);
	}
	const char *why = NULL;
	if (fstat(fd, st) < 0)
		why = "cannot stat";
	else if (st->st_dev != before.st_dev || st->st_ino != before.st_ino ||
	         !S_ISREG(st->st_mode))
		why = "was replaced while it was being taken";
	else if (st->st_nlink > 1)
		why = "has other hard links; copy the file instead of linking it";
	else if (st->st_size == 0)
		why = "is empty";
	if (!why && job->max_file_size > 0 && st->st_size > job->max_file_size) {
		csod_fail(err, "%s: is %lld bytes, over max_file_size (%lld)", name,
		          (long long)st->st_size, (long long)job->max_file_size);
		close(fd);
		return -1;
	}
	if (why) {
		csod_fail(err, "%s: %s", name, why);
		close(fd);
		return -1;
	}
	return fd;
}

static void on_copied(void *ctx, int64_t done)
{
	csod_intake_job *job = ctx;
	csod_progress_set(&job->progress, job->received + done);
}

/* "receiving" for the names in dir_fd about to be copied: their sizes
 * (as they are now; a file that grows is refused anyway) are the total. */
static void begin_progress(csod_intake_job *job, int dir_fd, char **names, int n)
{
	char outbox[PATH_MAX], tmp[PATH_MAX];
	int64_t total = 0;
	struct stat st;
	for (int i = 0; i < n; i++)
		if (fstatat(dir_fd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			total += st.st_size;
	if (csod_request_outbox(job->spool, &job->r, outbox, sizeof outbox) < 0 ||
	    csod_path(tmp, sizeof tmp, "%s/tmp", job->spool) < 0)
		return;
	csod_progress_begin(&job->progress, "receiving", &job->r, outbox, tmp, total);
	job->progress_on = 1;
}

/* Copies one regular file, name inside dir_fd, into dst_fd's folder. */
static int take_file(csod_intake_job *job, csod_request *r, int dir_fd, const char *name,
                     int dst_fd, csod_error *err)
{
	if (csod_name_check(name, err) < 0)
		return -1;
	if (strlen(name) >= sizeof r->files[0].name)
		return csod_fail(err, "%.60s...: file name too long", name);
	if (job->max_request_files > 0 && r->n_files >= job->max_request_files)
		return csod_fail(err, "%s: more than %lld files in one request", r->drop_name,
		                 (long long)job->max_request_files);
	struct stat st;
	int fd = open_drop_file(job, dir_fd, name, &st, err);
	if (fd < 0)
		return -1;
	int rc = add_file(r, name, err), out = -1;
	if (rc == 0)
		out = openat(dst_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		             0600);
	if (rc == 0 && out < 0)
		rc = csod_fail_errno(err, "%s: cannot create the store copy", name);
	if (rc == 0)
		rc = csod_copy_and_hash(fd, out, job->max_file_size, &r->files[r->n_files - 1],
		                        job->progress_on ? on_copied : NULL, job, err);
	if (rc == 0)
		job->received += r->files[r->n_files - 1].size;
	if (out >= 0)
		close(out);
	close(fd);
	return rc;
}

/* request.conf, if the folder has one: read once from a descriptor that
 * was checked to be a small regular file of the developer, never reopened
 * by name. */
static int take_request_conf(const csod_intake_job *job, int dir_fd, csod_request *r,
                             csod_error *err)
{
	int fd = openat(dir_fd, "request.conf", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP)
			return csod_fail(err, "request.conf: is a symbolic link; links are not "
			                      "followed");
		return csod_fail_errno(err, "request.conf: cannot open");
	}
	struct stat st;
	int rc;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CSOD_REQUEST_CONF_MAX)
		rc = csod_fail(err, "request.conf: not a small regular file (at most %d bytes)",
		               CSOD_REQUEST_CONF_MAX);
	else if (csod_drop_owner_check(&st, job->owner, "request.conf", r->developer, err) < 0)
		rc = -1;
	else
		rc = csod_request_conf_parse_fd(fd, r, err);
	close(fd);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a folder drop, sorted so that a request's files have a
 * stable order; at most `max` of them besides the control files. */
static int list_folder(int dir_fd, int64_t max, const char *drop, char ***out, int *n_out,
                       csod_error *err)
{
	int list_fd = dup(dir_fd);
	DIR *dh = list_fd >= 0 ? fdopendir(list_fd) : NULL;
	if (!dh) {
		if (list_fd >= 0)
			close(list_fd);
		return csod_fail_errno(err, "%s: cannot read the folder", drop);
	}
	char **names = NULL;
	int n = 0, rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(dh))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    is_control_name(e->d_name))
			continue;
		if (max > 0 && n >= max) {
			rc = csod_fail(err, "%s: more than %lld files in one request", drop,
			               (long long)max);
			break;
		}
		char **grown = realloc(names, sizeof *names * (size_t)(n + 1));
		if (!grown || !(grown[n] = strdup(e->d_name))) {
			names = grown ? grown : names;
			rc = csod_fail(err, "out of memory");
			break;
		}
		names = grown;
		n++;
	}
	closedir(dh);
	if (rc == 0)
		qsort(names, (size_t)n, sizeof *names, by_name);
	*out = names;
	*n_out = n;
	return rc;
}

/* A folder drop: taken over first (see fdtree.h), so that its builder can
 * no longer add, swap or remove entries while it is read. */
static int take_folder(csod_intake_job *job, csod_request *r, int dir_fd, int dst_fd,
                       csod_error *err)
{
	if (csod_dir_take_over(dir_fd) < 0)
		return csod_fail_errno(err, "%s: cannot take the folder over from its owner",
		                       r->drop_name);
	if (take_request_conf(job, dir_fd, r, err) < 0)
		return -1;
	char **names = NULL;
	int n = 0;
	int rc = list_folder(dir_fd, job->max_request_files, r->drop_name, &names, &n, err);
	if (rc == 0)
		begin_progress(job, dir_fd, names, n);
	for (int i = 0; i < n; i++) {
		if (rc == 0)
			rc = take_file(job, r, dir_fd, names[i], dst_fd, err);
		free(names[i]);
	}
	free(names);
	if (rc == 0 && r->n_files == 0)
		rc = csod_fail(err, "%s: the folder holds no files to sign", r->drop_name);
	return rc;
}

/* Each file must be something its service can sign, with the request's
 * options, and every digest must be one we know: better to say so now
 * than after an approval. */
static int check_signable(csod_request *r, int dir_fd, csod_error *err)
{
	char buf[sizeof r->digests];
	snprintf(buf, sizeof buf, "%s", r->digests);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!csod_digest_by_name(tok))
			return csod_fail(err, "unknown digest '%s'", tok);
	/* The outputs' names, to see that no two files publish over each
	 * other (a request shows none until it is signed), and whether each
	 * file can be signed as the request asks. */
	csod_sign_options opt = {0};
	char names[CSOD_MAX_DIGESTS][16];
	csod_request_sign_options(r, &opt, names);
	csod_error why;
	int rc = 0;
	for (int i = 0; i < r->n_files && rc == 0; i++) {
		csod_file *f = &r->files[i];
		int fd = openat(dir_fd, f->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return csod_fail_errno(err, "%s: cannot open the store copy", f->name);
		const csod_signer *s = csod_signer_for(r->service, f->name, fd, err);
		rc = s ? csod_outputs_of(s, fd, f->name, f->output, sizeof f->output, err) : -1;
		if (rc == 0 && r->options.detached)
			rc =
			    csod_outputs_add_detached(s, f->name, f->output, sizeof f->output, err);
		if (rc == 0 && opt.deep)
			rc = csod_deep_container_check(s, fd, f->name, &opt, err);
		if (rc == 0 && s->check_options && s->check_options(fd, f->name, &opt, &why) < 0)
			rc = csod_fail(err, "%s: %s", f->name, why.msg);
		close(fd);
		if (rc == 0)
			snprintf(f->engine, sizeof f->engine, "%s", s->name);
	}
	if (rc == 0)
		rc = csod_outputs_check(r->files, r->n_files, err);
	for (int i = 0; i < r->n_files; i++)
		r->files[i].output[0] = '\0';
	return rc;
}

/* The drop (a file or a folder) inside store/incoming/<id>.<developer>,
 * copied into the folder work_fd. */
static int take_drop(csod_intake_job *job, int work_fd)
{
	csod_request *r = &job->r;
	csod_error *err = &job->err;
	int incoming_fd = open(job->incoming, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (incoming_fd < 0)
		return csod_fail_errno(err, "%s: cannot open %s", r->drop_name, job->incoming);
	struct stat st;
	int rc = 0;
	if (fstatat(incoming_fd, r->drop_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = csod_fail_errno(err, "%s: vanished during intake", r->drop_name);
	} else if (S_ISDIR(st.st_mode)) {
		/* Before it is taken over: a folder of another user is left as it is. */
		if (csod_drop_owner_check(&st, job->owner, r->drop_name, r->developer, err) < 0) {
			close(incoming_fd);
			return -1;
		}
		int dir_fd = csod_open_dir_at(incoming_fd, r->drop_name);
		if (dir_fd < 0)
			rc = csod_fail_errno(err, "%s: cannot open the folder", r->drop_name);
		else
			rc = take_folder(job, r, dir_fd, work_fd, err);
		if (dir_fd >= 0)
			close(dir_fd);
	} else {
		char *names[1] = {r->drop_name};
		begin_progress(job, incoming_fd, names, 1);
		rc = take_file(job, r, incoming_fd, r->drop_name, work_fd, err);
	}
	close(incoming_fd);
	return rc;
}

void csod_intake_job_run(void *arg)
{
	csod_intake_job *job = arg;
	csod_request *r = &job->r;
	/* The hand-off from the inbox is durable before the request can be
	 * recorded: otherwise a power cut could put the drop back in the inbox
	 * after its request exists, and it would be taken twice. */
	csod_fsync_dir(job->incoming);
	csod_fsync_parent(job->incoming);
	/* A crash may have left either; both are rebuilt from the incoming copy. */
	csod_rm_rf(job->work);
	csod_rm_rf(job->store);
	if (job->rc < 0)
		return;
	csod_error *err = &job->err;
	int rc = csod_mkdir_p(job->work, 0700, err);
	int work_fd = rc == 0 ? open(job->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (rc == 0 && work_fd < 0)
		rc = csod_fail_errno(err, "cannot open %s", job->work);
	if (rc == 0)
		rc = take_drop(job, work_fd);
	if (rc == 0)
		rc = check_signable(r, work_fd, err);
	if (work_fd >= 0)
		close(work_fd);
	if (rc == 0 && rename(job->work, job->store) < 0)
		rc = csod_fail_errno(err, "cannot move %s into the store", r->drop_name);
	if (rc < 0)
		csod_rm_rf(job->work);
	job->rc = rc;
	job->no_space = rc < 0 && csod_error_no_space(err);
	/* Taken or failed, the views write the new state next; a drop that
	 * waits for room leaves no sign of this attempt. */
	if (job->progress_on)
		csod_progress_end(&job->progress, job->no_space ? NULL : "");
	job->progress_on = 0;
}

void csod_intake_job_free(void *arg)
{
	csod_intake_job *job = arg;
	if (job)
		csod_request_free(&job->r);
	free(job);
}
