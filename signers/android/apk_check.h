/* The apk engine's self-check of a signed APK before it is published. */
#ifndef CSOD_APK_CHECK_H
#define CSOD_APK_CHECK_H

#include <openssl/x509.h>

#include "../../lib/error.h"

/* in: the input as given; out: the signed APK. */
int csod_apk_self_check(int in_fd, int out_fd, X509_STORE *trust, csod_error *err);

#endif
