/* JAR signing (v1) of a whole archive, shared by the engines whose format
 * is a JAR by another name: the jar engine, and Android App Bundles, which
 * Google Play takes signed by jarsigner with the upload key. */
#ifndef CSOD_JAR_H
#define CSOD_JAR_H

#include <stdint.h>

#include "../signer.h"
#include "v1.h"
#include "zip_read.h"

int csod_jar_sign(int in_fd, int out_fd, const csod_identity *id, const csod_sign_options *opt,
                  csod_error *err);

/* The self-check: out_fd is in_fd's entries plus a valid JAR signature. */
int csod_jar_verify(int in_fd, int out_fd, X509_STORE *trust, csod_error *err);

/* Entries, central directory and end record of the archive z re-packed
 * with v1's signing files (repack.h), leaving out the entries in drop. The
 * entries it adds are dated dos_time_date ({time, date}, DOS format), or
 * now when NULL. */
int csod_jar_write_archive(const csod_zip *z, const csod_v1_result *v1, const unsigned char *drop,
                           const uint16_t *dos_time_date, int out_fd, csod_error *err);

/* Detached JAR signatures (jar_detached.c): one signer's files. */
int csod_jar_extract(int fd, unsigned char **sig, size_t *len, csod_error *err);
int csod_jar_attach(int in_fd, int out_fd, const unsigned char *sig, size_t len, csod_error *err);

#endif
