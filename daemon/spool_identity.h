/* The spool and its database recognise each other (spool_identity.c). */
#ifndef CSOD_SPOOL_IDENTITY_H
#define CSOD_SPOOL_IDENTITY_H

#include "../lib/error.h"
#include "db.h"

/* Refuses (with what to do) a database that is not the spool's own: one
 * that replaced a lost database, or a new one beside a used spool. On a
 * first start, records a fresh id in both. */
int csod_spool_identity_check(const char *spool, const char *db_path, csod_db *db, csod_error *err);

#endif
