/* Text from outside (file names, request.conf values, marker messages,
 * addresses) on its way to people: checked for being UTF-8 without control
 * characters, and shown escaped where it is not, so that it can neither
 * drop out of a JSON view nor rewrite a mail, a terminal or a log line. */
#ifndef CSOD_TEXT_H
#define CSOD_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* The longest escaped name an error message shows before cutting it with
 * "...": room for the reason in a csod_error. */
#define CSOD_SHOWN_MAX 200

/* Strict UTF-8 (RFC 3629) in s[0..len): no overlong forms, no surrogates,
 * nothing above U+10FFFF, no NUL. */
int csod_utf8_valid(const char *s, size_t len);

/* Whether s holds a C0 control character (below 0x20) or DEL. */
int csod_has_control(const char *s);

/* Why s may not be a name or a value: "is not valid UTF-8", "holds a
 * control character", or NULL when it may. */
const char *csod_text_problem(const char *s);

/* s with control characters written \n \r \t or \xNN (ESC is \x1b) and each
 * byte that is not part of valid UTF-8 written \xNN; everything else is
 * kept, so ordinary text reads the same. Writes at most len bytes with the
 * NUL; what does not fit is cut at an escape's edge and ends in "...".
 * Returns out. */
char *csod_escape_to(const char *s, char *out, size_t len);

/* The same, whole, in a malloc'd string (NULL when out of memory). */
char *csod_escape(const char *s);

/* The same, keeping the newlines: for a block of lines the caller built
 * from escaped parts. */
char *csod_escape_lines(const char *s);

/* s as HTML text or attribute value: escaped as above (control characters,
 * bytes that are not UTF-8), then & < > " ' as entities, so that a name a
 * developer chose can neither open an element nor leave an attribute.
 * malloc'd; NULL when out of memory. */
char *csod_html_escape(const char *s);

/* s as one component of a relative URL: every byte but letters, digits
 * and - . _ ~ percent-encoded (a '/' too: it cannot add a path level).
 * malloc'd; NULL when out of memory. */
char *csod_url_escape(const char *s);

/* A size for people, in decimal units: "512 bytes", "1.5 MB", "14 MB". */
void csod_size_text(int64_t bytes, char *out, size_t len);

#endif
