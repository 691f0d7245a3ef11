/* deep = true (request.conf) / --deep (csod-sign) on a container that has
 * a signature of its own: the signable files inside it are signed first,
 * with the request's settings, the container is rebuilt around them, and
 * then the container itself is signed. JAR, WAR, EAR and AAB (their inner
 * JARs, PE files and scripts, as the deep engine signs a ZIP drop's), CAB
 * (the PE files in its folders) and MSI (those of its embedded cabinets).
 * A ZIP drop is always signed deep. */
#ifndef CSOD_DEEP_CONTAINER_H
#define CSOD_DEEP_CONTAINER_H

#include "../signer.h"

/* 0 when the file in fd, for engine s, can be signed deep; else fails,
 * naming the file, with the reason (a PE file has no inner files; the
 * inside breaks a rule: path tricks, duplicates, an MSI without a cabinet, a
 * bomb...; opt asks to keep the container's existing signatures, which the
 * changed inner files would break). For intake, before an approval. */
int csod_deep_container_check(const csod_signer *s, int fd, const char *name,
                              const csod_sign_options *opt, csod_error *err);

/* csod_sign_checked for opt->deep: the inner files signed into a nameless
 * rebuilt copy, that copy checked inner file by inner file against in_fd
 * (with trust), then signed by s into out_fd and self-checked against
 * the copy. Returns what csod_sign_checked does. */
int csod_deep_sign_checked(const csod_signer *s, int in_fd, int out_fd, const csod_identity *id,
                           const csod_sign_options *opt, X509_STORE *trust, csod_error *err);

#endif
