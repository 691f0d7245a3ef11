/* The ZIP64 records the reader takes when asked to (csod_zip_open_zip64):
 * MSIX packages carry them even when nothing needs 64 bits (makeappx and
 * the MSIX SDK always write them). Only archives whose values all fit the
 * 32-bit fields are taken, so that the rest of the reader and the writer
 * stay 32-bit. Internal to zip_read.c. */
#ifndef CSOD_ZIP64_H
#define CSOD_ZIP64_H

#include "zip_read.h"

/* From the ZIP64 end locator at locator (20 bytes read from the file at
 * locator_offset): the ZIP64 end record's entry count, directory size and
 * offset into z, and where the directory must end (z->cd_end). */
int csod_zip64_end(csod_zip *z, const unsigned char *locator, uint64_t locator_offset,
                   csod_error *err);

/* An entry whose directory record says 0xffffffff (or disk 0xffff) takes
 * the values from its ZIP64 extra field. */
int csod_zip64_entry(csod_zip_entry *e, csod_error *err);

/* 1 if a local extra field holds a ZIP64 field (then a data descriptor's
 * sizes are 8 bytes each). */
int csod_zip64_in_extra(const unsigned char *x, size_t len);

#endif
