/* A second, independent reading of a signed archive before it is published:
 * libzip opens it with its strict consistency checks (local headers against
 * the central directory) and must see the same entries as our own reader. */
#ifndef CSOD_ZIP_CROSSCHECK_H
#define CSOD_ZIP_CROSSCHECK_H

#include "../../lib/error.h"
#include "zip_read.h"

int csod_zip_crosscheck(const csod_zip *ours, csod_error *err);

#endif
