/* Entry rules of the deep engine; see deep_entry.h. */
#include "deep_entry.h"

#include <string.h>
#include <unistd.h>

#include "../common/fileio.h"

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
	return csod_deep_signer_named(e->name, fd, err);
}

const csod_signer *csod_deep_signer_named(const char *name, int fd, csod_error *err)
{
	csod_error_clear(err);
	const char *base = name + strlen(name);
	while (base > name && base[-1] != '/' && base[-1] != '\\')
		base--;
	const char *service = csod_service_for_name(base);
	if (!service)
		service = csod_service_for_content(fd);
	if (!service || strcmp(service, "hash") == 0)
		return NULL;
	csod_error why;
	const csod_signer *s = csod_signer_for(service, base, fd, &why);
	if (!s)
		csod_fail(err, "entry '%.200s': %s", name, why.msg);
	return s;
}
