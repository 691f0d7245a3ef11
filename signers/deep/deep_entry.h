/* The deep engine's rules for the entries of a ZIP drop (release.zip):
 * which entries are refused outright (path tricks, links, zip bombs),
 * which inner engine signs an entry, and getting an entry's content into
 * a nameless scratch file to hand to that engine as an fd. Nothing inside
 * the archive is ever written to disk under its own name. */
#ifndef CSOD_DEEP_ENTRY_H
#define CSOD_DEEP_ENTRY_H

#include <stdint.h>

#include "../java/zip_read.h"
#include "../signer.h"

/* Entries over a megabyte may shrink at most this much when deflated:
 * real executables and archives stay far below it; a zip bomb does not. */
#define CSOD_DEEP_MAX_RATIO 200u

/* Opens the drop with the ZIP reader's own checks (no '..' or absolute
 * names, no duplicates, no encryption or ZIP64, no overlapping entries),
 * then refuses, naming the entry: control characters or backslashes in a
 * name, symbolic links, an entry that shrinks more than
 * CSOD_DEEP_MAX_RATIO, and a total uncompressed size over max_size (0:
 * the reader's own limit). */
int csod_deep_open(csod_zip *z, int fd, int64_t max_size, csod_error *err);

/* The entry's content, unpacked into a new nameless file in tmp_dir
 * (csod_anon_file); the fd, or -1. */
int csod_deep_extract(const csod_zip *z, const csod_zip_entry *e, const char *tmp_dir,
                      csod_error *err);

/* A drop and the ZIP archives inside it; a ZIP inside those is refused. */
#define CSOD_DEEP_MAX_DEPTH 2

/* The engine that signs an entry whose content is in fd, by the rules for
 * a file dropped alone (extension, else content; a nested .zip is the
 * deep engine again), or NULL with err clear for an entry copied as it
 * is: directories, and files no engine signs in place (hash files get a
 * detached .p7s, so are not signed inside). NULL with err set when an
 * entry named as signable is not what its name says. */
const csod_signer *csod_deep_signer_for(const csod_zip_entry *e, int fd, csod_error *err);

/* The same for a non-empty file named name (its folders separated by '/'
 * or '\\') inside some other container (a cabinet). */
const csod_signer *csod_deep_signer_named(const char *name, int fd, csod_error *err);

#endif
