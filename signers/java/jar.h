/* JAR signing (v1) of a whole archive, shared by the engines whose format
 * is a JAR by another name: the jar engine, and Android App Bundles, which
 * Google Play takes signed by jarsigner with the upload key. */
#ifndef CSOD_JAR_H
#define CSOD_JAR_H

#include "../signer.h"

int csod_jar_sign(int in_fd, int out_fd, const csod_identity *id, const csod_sign_options *opt,
                  csod_error *err);

/* The self-check: out_fd is in_fd's entries plus a valid JAR signature. */
int csod_jar_verify(int in_fd, int out_fd, X509_STORE *trust, csod_error *err);

#endif
