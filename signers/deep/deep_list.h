/* What a deep signing would sign, for people to see before they approve
 * it: every file inside a ZIP drop, or a JAR or cabinet signed deep, with
 * its own hashes and the engine that would sign it (or none: copied as it
 * is); the files of a ZIP inside a ZIP drop too, one level down. */
#ifndef CSOD_DEEP_LIST_H
#define CSOD_DEEP_LIST_H

#include <stdint.h>

#include "../../lib/error.h"

typedef struct csod_deep_inner {
	const char *name;   /* as in the archive */
	uint64_t size;      /* uncompressed */
	const char *engine; /* the engine that signs it; NULL: copied unsigned */
	char md5[33], sha1[41], sha256[65];
	/* NULL, or the name of the ZIP inside the drop that holds this file
	 * (reported just after that ZIP itself). */
	const char *within;
	/* NULL, or for a file of an MSI's cabinet (named by its File key) the
	 * File table's long file name. */
	const char *file_name;
} csod_deep_inner;

/* Calls each(ctx, inner) for every entry of the ZIP archive (or cabinet)
 * in fd except directories, in archive order; a nameless scratch file in
 * tmp_dir holds each entry's content meanwhile. Fails as the deep engine
 * would refuse the archive (max_size: 0 for the reader's own limits). */
int csod_deep_list(int fd, int64_t max_size, const char *tmp_dir,
                   void (*each)(void *ctx, const csod_deep_inner *inner), void *ctx,
                   csod_error *err);

#endif
