/* requests/<id>/files/: the approvers' read-only view of what they approve,
 * for those who work from the share. Copies (reflinks where the
 * filesystem has them) of the store copy, made by the daemon: a hard link
 * would hand out the store inode itself. The folder is r-x and each file
 * r-- (0440) for exactly the admins whose scope covers the request, and
 * nobody else; it exists while the request waits for approval (created)
 * and is removed once it is decided. Rewritten with the request's other
 * views (views.h). */
#ifndef CSOD_REQUEST_FILES_H
#define CSOD_REQUEST_FILES_H

#include <limits.h>
#include <sys/types.h>

#include "../lib/error.h"
#include "daemon.h"

struct csod_request;

typedef struct csod_files_view {
	char id[32];
	char spool[PATH_MAX];
	int show;           /* 1: the folder is to be there; 0: gone */
	char (*names)[256]; /* the request's files */
	int n_names;
	uid_t *readers; /* the admins whose scope covers the request */
	int n_readers;
} csod_files_view;

/* Whether a request in state still has its store copy (created, approved,
 * in_progress: csodctl request download --submitted reads it). */
int csod_request_files_kept(const char *state);

/* On the loop thread: what the folder of r is to be. */
int csod_files_view_render(const csod_daemon *d, const struct csod_request *r, csod_files_view *v,
                           csod_error *err);
void csod_files_view_clear(csod_files_view *v);

/* On any thread: makes details_dir/files (from the store copy, when it is
 * missing), sets who reads it (when it is there), or removes it. */
int csod_request_files_write(const csod_files_view *v, const char *details_dir, csod_error *err);

#endif
