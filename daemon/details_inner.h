/* details.json's list of the files inside each ZIP drop (the deep
 * engine's), and each JAR, AAB or CAB a request signs deep, of a request
 * awaiting approval: what will be signed, with
 * each inner file's own hashes, so that the approver sees it before
 * approving. Built on a publisher thread from the store copy (it unpacks
 * and hashes every entry), never on the loop. */
#ifndef CSOD_DETAILS_INNER_H
#define CSOD_DETAILS_INNER_H

#include <stdint.h>

#include "../lib/error.h"

typedef struct csod_details_inner {
	char store_dir[4096]; /* store/<id>; "" when there is nothing to list */
	char (*names)[256];   /* the request's files to list (csod_details_inner_lists) */
	int n_names;
	int64_t max_size; /* max_file_size, as the signing will apply it */
} csod_details_inner;

/* Whether a file signed by engine (with request.conf deep) has inner
 * files to list. */
int csod_details_inner_lists(const char *engine, int deep);

/* details_json with, in each listed file's object, "inner": [{name, size,
 * md5, sha1, sha256, signed_by (the engine, or null: copied as it is)}]
 * (a ZIP inside a ZIP drop with its own "inner" list of the same; an MSI's
 * files with "file_name", the File table's long name), or
 * "inner_error" with the reason an archive cannot be listed; malloc'd, or
 * NULL (err says why). */
char *csod_details_add_inner(const char *details_json, const csod_details_inner *di,
                             const char *tmp_dir, csod_error *err);

void csod_details_inner_clear(csod_details_inner *di);

#endif
