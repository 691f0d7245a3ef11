#ifndef CSOD_DB_SCHEMA_H
#define CSOD_DB_SCHEMA_H

int csod_schema_latest(void);
/* The SQL that moves the schema from to_version-1 to to_version. */
const char *csod_schema_migration(int to_version);

#endif
