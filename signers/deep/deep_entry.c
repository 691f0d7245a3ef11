/* Entry rules of the deep engine; see deep_entry.h. */
#include "deep_entry.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/text.h"
#include "../common/fileio.h"

#define MEGABYTE (1024u * 1024u)

/* Names an unpacking tool could turn into something other than a plain
 * path below the folder it unpacks into, or that a terminal would act on.
 * ('..' and absolute names the ZIP reader refuses itself.) */
static int check_name(const csod_zip_entry *e, csod_error *err)
{
	for (size_t i = 0; i < e->name_len; i++) {
		unsigned char c = (unsigned char)e->name[i];
		if (c < 0x20 || c == 0x7f) {
			char shown[CSOD_SHOWN_MAX];
			csod_escape_to(e->name, shown, sizeof shown);
			return csod_fail(err, "entry '%s' has a control character in its name",
			                 shown);
		}
		if (c == '\\')
			return csod_fail(err, "entry '%.200s' has a backslash in its name",
			                 e->name);
	}
	return 0;
}

static int check_entry(const csod_zip_entry *e, csod_error *err)
{
	if (check_name(e, err) < 0)
		return -1;
	/* The file type sits in the top half of the external attributes
	 * whatever the "made by" host says: Info-ZIP writes it for links. */
	if (((e->external_attr >> 16) & S_IFMT) == S_IFLNK)
		return csod_fail(err, "entry '%.200s' is a symbolic link", e->name);
	if (e->usize > MEGABYTE && e->usize / (e->csize ? e->csize : 1u) > CSOD_DEEP_MAX_RATIO)
		return csod_fail(err,
		                 "entry '%.200s' shrinks more than %u:1 when compressed: "
		                 "refused as a zip bomb",
		                 e->name, CSOD_DEEP_MAX_RATIO);
	return 0;
}

int csod_deep_open(csod_zip *z, int fd, int64_t max_size, csod_error *err)
{
	if (csod_zip_open(z, fd, "archive", err) < 0)
		return -1;
	uint64_t total = 0;
	csod_error why;
	for (size_t i = 0; i < z->n_entries; i++) {
		const csod_zip_entry *e = &z->entries[i];
		total += e->usize;
		if (check_entry(e, &why) < 0) {
			csod_zip_close(z);
			return csod_fail(err, "archive: %s", why.msg);
		}
		if (max_size > 0 && total > (uint64_t)max_size) {
			csod_fail(err,
			          "archive: entries up to '%.200s' hold more than %lld bytes "
			          "uncompressed (the limit for a file): refused as a zip bomb",
			          e->name, (long long)max_size);
			csod_zip_close(z);
			return -1;
		}
	}
	if (z->has_apk_sig_block) {
		csod_zip_close(z);
		return csod_fail(err, "archive carries an APK signing block: sign it as an APK");
	}
	return 0;
}

struct fd_sink {
	int fd;
	off_t at;
	csod_error *err;
};

static int write_sink(void *ctx, const unsigned char *data, size_t len)
{
	struct fd_sink *s = ctx;
	if (csod_pwrite_all(s->fd, data, len, s->at, s->err) < 0)
		return -1;
	s->at += (off_t)len;
	return 0;
}

int csod_deep_extract(const csod_zip *z, const csod_zip_entry *e, const char *tmp_dir,
                      csod_error *err)
{
	csod_error why;
	int fd = csod_anon_file(tmp_dir, &why);
	if (fd < 0)
		return csod_fail(err, "entry '%.200s': %s", e->name, why.msg);
	struct fd_sink s = {fd, 0, &why};
	csod_error_clear(&why);
	if (csod_zip_read_entry(z, e, write_sink, &s, &why) < 0) {
		close(fd);
		return csod_fail(err, "entry '%.200s': %s", e->name,
		                 why.msg[0] ? why.msg : "cannot write its scratch copy");
	}
	return fd;
}

const csod_signer *csod_deep_signer_for(const csod_zip_entry *e, int fd, csod_error *err)
{
	csod_error_clear(err);
	if (e->usize == 0 || e->name[e->name_len - 1] == '/')
		return NULL;
	const char *base = strrchr(e->name, '/');
	base = base ? base + 1 : e->name;
	const char *service = csod_service_for_name(base);
	if (!service)
		service = csod_service_for_content(fd);
	if (!service || strcmp(service, "hash") == 0 || strcmp(service, "deep") == 0)
		return NULL;
	csod_error why;
	const csod_signer *s = csod_signer_for(service, base, fd, &why);
	if (!s)
		csod_fail(err, "entry '%.200s': %s", e->name, why.msg);
	return s;
}
