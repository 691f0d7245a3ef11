/* The PE files inside a cabinet (CAB), for deep signing: each folder
 * unpacked (uncompressed or MSZIP; LZX and Quantum are refused), every
 * file in it that is a PE signed with the request's settings, and the
 * cabinet written again with the input's files, order, names, times,
 * attributes and folder compression. Refused, naming the file: path tricks
 * in names, duplicate names, a cabinet in a set (spanning several files),
 * files that overlap or lie outside their folder, and unpacking past the
 * size limit or CSOD_DEEP_MAX_RATIO (a bomb). */
#ifndef CSOD_DEEP_CAB_H
#define CSOD_DEEP_CAB_H

#include "../signer.h"

int csod_deep_cab_rebuild(int in_fd, int out_fd, const csod_identity *id,
                          const csod_sign_options *opt, csod_error *err);

/* copy_fd, made by csod_deep_cab_rebuild from in_fd: the same files in the
 * same order, each PE verified by the PE engine against the input's, the
 * rest byte-identical. */
int csod_deep_cab_verify(int in_fd, int copy_fd, X509_STORE *trust, csod_error *err);

/* At intake: the cabinet in fd within the rules above. */
int csod_deep_cab_rules(int fd, csod_error *err);

#endif
