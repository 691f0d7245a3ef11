/* libzip cross-check of a written archive; see zip_crosscheck.h. */
#include "zip_crosscheck.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zip.h>

int csod_zip_crosscheck(const csod_zip *ours, csod_error *err)
{
	/* A fresh open file description, so libzip's reads (and its close)
	 * leave the caller's descriptor and offset alone; without /proc, a
	 * duplicate (only the offset is then shared, which nobody relies on). */
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", ours->fd);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = fcntl(ours->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return csod_fail_errno(err, "cannot reopen the signed archive for libzip");
	int zerr = 0;
	zip_t *za = zip_fdopen(fd, ZIP_CHECKCONS, &zerr);
	if (!za) {
		close(fd);
		zip_error_t ze;
		zip_error_init_with_code(&ze, zerr);
		csod_fail(err, "libzip rejects the signed archive: %s", zip_error_strerror(&ze));
		zip_error_fini(&ze);
		return -1;
	}
	int rc = 0;
	zip_int64_t n = zip_get_num_entries(za, 0);
	if (n < 0 || (uint64_t)n != ours->n_entries)
		rc = csod_fail(err, "libzip sees %lld entries in the signed archive, csod %zu",
		               (long long)n, ours->n_entries);
	for (zip_int64_t i = 0; rc == 0 && i < n; i++) {
		const csod_zip_entry *e = &ours->entries[i];
		zip_stat_t st;
		if (zip_stat_index(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW, &st) < 0 ||
		    strcmp(st.name, e->name) != 0 || st.size != e->usize ||
		    st.comp_size != e->csize || st.crc != e->crc || st.comp_method != e->method)
			rc = csod_fail(err, "libzip reads entry %lld ('%.200s') differently",
			               (long long)i, e->name);
	}
	zip_discard(za);
	return rc;
}
