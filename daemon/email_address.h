/* Email addresses csod accepts (config, csodctl): each one ends up in a
 * mail header, so it must be one plain address and nothing else. */
#ifndef CSOD_EMAIL_ADDRESS_H
#define CSOD_EMAIL_ADDRESS_H

#include "../lib/error.h"

/* Why address is not a plain address (local@domain: no control characters
 * or spaces, exactly one @, a local part of letters, digits, dots and
 * !#$%&'*+-/=?^_`{|}~, a domain of dot-separated host name labels), as the
 * rest of a sentence starting with "it ..."; NULL when it is one. */
const char *csod_email_problem(const char *address);

/* The same as an error: "\"<address, escaped>\" is not a valid email
 * address: it ...". 0 when address is fine. */
int csod_email_check(const char *address, csod_error *err);

#endif
