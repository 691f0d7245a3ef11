#ifndef CSOD_SPC_OPUS_H
#define CSOD_SPC_OPUS_H

#include "../signer.h"

/* The DER of an SpcSpOpusInfo naming the program (description, UTF-8) and
 * its URL, either may be NULL or empty. Returns the length and sets *out
 * (OPENSSL_free it), or -1 with err set. */
int csod_spc_opus_info(const char *description, const char *url, unsigned char **out,
                       csod_error *err);

#endif
