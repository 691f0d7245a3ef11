/* Which ZIP drops the deep engine refuses outright; see deep_entry.h.
 * Apart from the inner engines, so that the fuzzer can take it alone. */
#include <sys/stat.h>

#include "../../lib/text.h"
#include "deep_entry.h"

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
