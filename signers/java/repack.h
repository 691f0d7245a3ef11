/* Writing the signed archive's entries and comparing a signed archive with
 * its input, shared by the jar and apk engines. */
#ifndef CSOD_REPACK_H
#define CSOD_REPACK_H

#include "v1.h"
#include "zip_read.h"
#include "zip_write.h"

/* zipalign's rule for a stored entry's data, when apk_align: 4096 for .so
 * libraries (page aligned, mapped in place), 4 for the rest; 0 otherwise. */
unsigned csod_repack_alignment(const char *name, int apk_align);

/* Writes the entries of the signed archive to o: "META-INF/" if present,
 * the new manifest, kept signature files, our .SF and block (when v1 is
 * given), then every other entry not in drop, in input order. apk_align:
 * stored entries' data 4-byte aligned, stored .so files 4096. */
int csod_repack_entries(const csod_zip *z, const csod_v1_result *v1, const unsigned char *drop,
                        int apk_align, csod_zip_out *o, csod_error *err);

/* The output holds exactly the input's entries (same names, sizes, CRCs),
 * apart from signature files. */
int csod_repack_same_content(const csod_zip *in, const csod_zip *out, csod_error *err);

/* Opens the signed archive (out_fd) for its self-check, after checking it
 * holds the input's content (csod_repack_same_content) and that libzip
 * reads it as we do. what names the input in messages ("APK"). */
int csod_repack_open_signed(int in_fd, int out_fd, const char *what, csod_zip *out,
                            csod_error *err);

#endif
