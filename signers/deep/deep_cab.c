/* The PE files (and other signable files) inside a cabinet, signed before
 * the cabinet; see deep_cab.h. Each folder is unpacked into a nameless
 * scratch file, each file of it copied out into another for its engine,
 * and the folder's new content packed again: memory stays flat. */
#include "deep_cab.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "../../lib/text.h"
#include "../common/fileio.h"
#include "deep_cab_read.h"
#include "deep_cab_write.h"
#include "deep_entry.h"

/* The file f of a folder unpacked into content, alone in a new scratch file. */
static int file_alone(int content, const csod_dcab_file *f, const char *tmp_dir, csod_error *err)
{
	int fd = csod_anon_file(tmp_dir, err);
	if (fd >= 0 && csod_copy_range(content, f->offset, fd, 0, f->size, err) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void tell(const csod_sign_options *opt, const char *name, const csod_signer *s)
{
	if (!opt->timestamp.note)
		return;
	char shown[CSOD_SHOWN_MAX], msg[400];
	csod_escape_to(name, shown, sizeof shown);
	snprintf(msg, sizeof msg, "inner file '%s' signed (%s)", shown, s->name);
	opt->timestamp.note(opt->timestamp.note_arg, LOG_INFO, msg);
}

/* File f (from content) onto the end of the folder's new content, signed
 * by its engine when it has one; sets out->offset and out->size. */
static int put_file(int content, const csod_dcab_file *f, int fresh, uint64_t *at,
                    csod_dcab_file *out, const csod_identity *id, const csod_sign_options *opt,
                    csod_error *err)
{
	out->offset = (uint32_t)*at;
	if (f->size == 0)
		return 0;
	int fd = file_alone(content, f, opt->tmp_dir, err), signed_fd = -1, rc = -1;
	if (fd < 0)
		return -1;
	const csod_signer *s = csod_deep_signer_named(f->name, fd, err);
	csod_sign_options inner = *opt;
	inner.input_name = f->name;
	inner.progress = NULL; /* it would count the inner file's bytes as the cabinet's */
	csod_error why;
	struct stat st = {0};
	if (!s && err->msg[0])
		rc = -1;
	else if (!s)
		rc = csod_copy_range(fd, 0, fresh, (off_t)*at, f->size, err);
	else if ((signed_fd = csod_anon_file(opt->tmp_dir, err)) < 0)
		rc = -1;
	else if (s->sign(fd, signed_fd, id, &inner, &why) < 0)
		rc = csod_fail(err, "file '%.200s': %s", f->name, why.msg);
	else if (fstat(signed_fd, &st) < 0 || (uint64_t)st.st_size > UINT32_MAX)
		rc = csod_fail(err, "file '%.200s': its signed copy is over 4 GB", f->name);
	else if ((rc = csod_copy_range(signed_fd, 0, fresh, (off_t)*at, (uint64_t)st.st_size,
	                               err)) == 0)
		tell(opt, f->name, s);
	if (rc == 0)
		*at += s ? (uint64_t)st.st_size : f->size;
	out->size = (uint32_t)(*at - out->offset);
	close(fd);
	if (signed_fd >= 0)
		close(signed_fd);
	return rc;
}

/* Folder i: unpacked, its files (from *k on) put into a new content, packed into p. */
static int rebuild_folder(const csod_dcab *c, uint16_t i, size_t *k, csod_dcab_file *files,
                          csod_dcab_packed *p, const csod_identity *id,
                          const csod_sign_options *opt, csod_error *err)
{
	int content = csod_anon_file(opt->tmp_dir, err), fresh = -1, rc = -1;
	if (content >= 0 && (fresh = csod_anon_file(opt->tmp_dir, err)) >= 0 &&
	    (p->data_fd = csod_anon_file(opt->tmp_dir, err)) >= 0)
		rc = csod_dcab_unpack(c, i, content, err);
	uint64_t at = 0;
	for (; rc == 0 && *k < c->cab.n_files && c->files[*k].folder == i; (*k)++)
		rc = put_file(content, &c->files[*k], fresh, &at, &files[*k], id, opt, err);
	if (rc == 0 && at > UINT32_MAX)
		rc = csod_fail(err, "folder %u would unpack to over 4 GB", i + 1);
	p->type = c->folders[i].type;
	if (rc == 0)
		rc = csod_dcab_pack(fresh, at, p, err);
	if (content >= 0)
		close(content);
	if (fresh >= 0)
		close(fresh);
	return rc;
}

int csod_deep_cab_rebuild(int in_fd, int out_fd, const csod_identity *id,
                          const csod_sign_options *opt, csod_error *err)
{
	csod_dcab c;
	if (csod_dcab_open(&c, in_fd, opt->max_size, err) < 0)
		return -1;
	csod_dcab_file *files = calloc(c.cab.n_files + 1u, sizeof *files);
	csod_dcab_packed *packed = calloc(c.cab.n_folders + 1u, sizeof *packed);
	int rc = files && packed ? 0 : csod_fail(err, "out of memory");
	if (rc == 0)
		memcpy(files, c.files, c.cab.n_files * sizeof *files);
	for (uint16_t i = 0; packed && i < c.cab.n_folders; i++)
		packed[i].data_fd = -1;
	size_t k = 0;
	for (uint16_t i = 0; rc == 0 && i < c.cab.n_folders; i++)
		rc = rebuild_folder(&c, i, &k, files, &packed[i], id, opt, err);
	if (rc == 0)
		rc = csod_dcab_write(out_fd, &c, files, packed, err);
	for (uint16_t i = 0; packed && i < c.cab.n_folders; i++)
		if (packed[i].data_fd >= 0)
			close(packed[i].data_fd);
	free(files);
	free(packed);
	csod_dcab_close(&c);
	return rc;
}

int csod_deep_cab_rules(int fd, csod_error *err)
{
	csod_dcab c;
	if (csod_dcab_open(&c, fd, 0, err) < 0)
		return -1;
	csod_dcab_close(&c);
	return 0;
}
