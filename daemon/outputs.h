/* The names a request's signing publishes in its outbox folder: one per
 * file, or one per part for a file that splits (a hash file listing
 * several files: "<name>.p7s" for each line). A file's names are kept in
 * csod_file.output, separated by newlines (never part of a name: names
 * with control characters are refused). */
#ifndef CSOD_OUTPUTS_H
#define CSOD_OUTPUTS_H

#include <stddef.h>

#include "../signers/signer.h"
#include "request.h"

/* The output names of the file named name (its content in fd, signer s)
 * into out (len bytes), newline-separated. */
int csod_outputs_of(const csod_signer *s, int fd, const char *name, char *out, size_t len,
                    csod_error *err);

/* For request.conf's detached = true: adds "<output>.sig" after the
 * output of the file named name (in out, as csod_outputs_of gives it), or
 * fails, naming the file, when its engine has no detached signatures or
 * it splits into several outputs. */
int csod_outputs_add_detached(const csod_signer *s, const char *name, char *out, size_t len,
                              csod_error *err);

/* The next name in a list from *pos (NULL at the end), copied into name. */
const char *csod_outputs_next(const char **pos, char *name, size_t len);

/* Whether name is one the daemon writes itself in an outbox folder. */
int csod_output_reserved(const char *name);

/* Every output of the request's files: none reserved by the outbox, none
 * twice (two files would publish over each other); fails naming it. */
int csod_outputs_check(const csod_file *files, int n, csod_error *err);

#endif
