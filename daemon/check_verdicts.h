/* The pre-sign checks' verdicts on a request (csod_request.verdicts) as
 * the database keeps them (a JSON array) and as people read them (one
 * line). Shared by csodd and csodctl. */
#ifndef CSOD_CHECK_VERDICTS_H
#define CSOD_CHECK_VERDICTS_H

#include <stddef.h>

#include "request.h"

/* The JSON array for the check_results column; NULL when r has none. */
char *csod_verdicts_to_json(const csod_request *r);
/* Fills r->verdicts from the column's text (NULL or garbage: none). */
void csod_verdicts_from_json(const char *text, csod_request *r);

/* The summary of verdicts: "fail" if any failed, else "hold" if any held
 * or could not run, else "pass". */
const char *csod_verdicts_summary(const csod_request *r);

/* One line for mail, logs and audit records: "fail (clamav: fail:
 * Eicar-Test FOUND in app.exe; policy: pass: built by CI)", "pending",
 * or "none configured". */
void csod_verdicts_line(const csod_request *r, char *out, size_t len);

/* Adds a verdict (cut to fit); ignored past CSOD_CHECKS_MAX. */
void csod_verdict_add(csod_request *r, const char *check, const char *verdict, const char *reason,
                      int64_t at);

#endif
