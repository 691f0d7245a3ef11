/* Outputs of csod-sign, written beside their place and renamed into it:
 * an output appears whole or not at all. */
#ifndef CSOD_SIGN_STAGED_H
#define CSOD_SIGN_STAGED_H

#include <stddef.h>

#include "../../lib/error.h"

/* A temporary file in the folder of dest (its path in tmp), open
 * read-write; -1 on failure. */
int csod_stage_open(const char *dest, char *tmp, size_t tmplen, csod_error *err);

/* Renames tmp to dest and clears tmp; with sync, durably (fsync of the
 * file and its folder), as the daemon publishes. */
int csod_stage_publish(char *tmp, const char *dest, int sync, csod_error *err);

#endif
