/* Where a request's results are, as the server and as people see them. */
#ifndef CSOD_REQUEST_PATHS_H
#define CSOD_REQUEST_PATHS_H

#include <stddef.h>

#include "config.h"
#include "request.h"

/* The request's folder in its developer's outbox, named for what was
 * signed: "<id> <drop>[ <version>]" (a '/' in the version shown as '_';
 * cut, at a character boundary, to keep it well under NAME_MAX). The id
 * comes first, so folders sort by time. */
int csod_request_folder(const csod_request *r, char *out, size_t len);

/* <spool>/outbox/<developer>/<folder>; a request published before folders
 * were named (outbox/<developer>/<id>) keeps its old folder. */
int csod_request_outbox(const char *spool, const csod_request *r, char *out, size_t len);

/* The request's outbox folder as its developer reaches it (share_path,
 * below); "" when its path does not fit. */
int csod_request_outbox_shown(const csod_config *cfg, const char *spool, const csod_request *r,
                              char *out, size_t len);

/* A spool path (rel, e.g. "outbox/dagwood/<folder>") as the people who
 * read it see it: under the configured share_path (\\files\csod, or
 * /mnt/csod) with that path's separator, or on the server's spool when
 * share_path is not set. */
int csod_shared_path(const csod_config *cfg, const char *rel, char *out, size_t len);

/* The command that checks a signed file with an independent verifier, by
 * the engine that signed it (openssl cms for hash signatures, jarsigner,
 * apksigner, osslsigncode): signed and chain are the paths shown (quoted
 * in the command, folder names hold spaces). */
int csod_verify_command(const char *engine, const char *signed_path, const char *chain, char *out,
                        size_t len);

#endif
