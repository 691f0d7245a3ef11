/* What intake refuses of the names a developer gives: every name must be
 * one that approvers can be shown (views are JSON, so UTF-8) and that
 * cannot rewrite a mail, a view or a terminal (no control characters). */
#ifndef CSOD_NAMES_H
#define CSOD_NAMES_H

#include <stddef.h>

#include "../lib/error.h"

/* A file's name in a drop: fails with "<name, escaped>: file name is not
 * valid UTF-8" or "...: file name holds a control character". */
int csod_name_check(const char *name, csod_error *err);

/* The drop's own name, kept in drop_name (len bytes): fails as
 * csod_name_check does, and then replaces drop_name with its escaped form,
 * so that the failed request's views can show it. */
int csod_drop_name_check(char *drop_name, size_t len, csod_error *err);

#endif
