/* The files inside an MSI's embedded cabinets, for deep signing: every
 * stream of the package that is a cabinet (the Media table's "#name"
 * cabinets start "MSCF") is rebuilt by the deep cabinet code with its PE
 * files signed, the File table's FileSize and the MsiFileHash row of each
 * signed file are rewritten to match (deep_msi_tables.h), and the
 * compound file is written again with those streams replaced. The MSI
 * engine then signs the result. */
#ifndef CSOD_DEEP_MSI_H
#define CSOD_DEEP_MSI_H

#include "../signer.h"

int csod_deep_msi_rebuild(int in_fd, int out_fd, const csod_identity *id,
                          const csod_sign_options *opt, csod_error *err);

/* copy_fd against in_fd: each cabinet checked by csod_deep_cab_verify,
 * every other stream byte-identical but File and MsiFileHash. */
int csod_deep_msi_verify(int in_fd, int copy_fd, X509_STORE *trust, csod_error *err);

/* At intake: an embedded cabinet, each within the deep cabinet rules. */
int csod_deep_msi_check(int fd, csod_error *err);

/* Calls each(ctx, cab_fd) with every embedded cabinet of the MSI in fd,
 * in a scratch file in tmp_dir. */
int csod_deep_msi_cabinets(int fd, const char *tmp_dir,
                           int (*each)(void *ctx, int cab_fd, csod_error *err), void *ctx,
                           csod_error *err);

/* Calls each(ctx, key, name) for every file the MSI in fd lists: its key
 * (its name in the cabinet) and its long file name. */
int csod_deep_msi_file_names(int fd, void (*each)(void *ctx, const char *key, const char *name),
                             void *ctx, csod_error *err);

#endif
