/* The PostgreSQL backend of db.h (cluster mode). */
#include "db_backend.h"

static int pg_open(csod_db *db, const csod_db_location *loc, int readonly, csod_error *err)
{
	(void)db;
	(void)loc;
	(void)readonly;
	return csod_fail(err, "database: this csod was built without PostgreSQL");
}

const csod_db_backend csod_db_postgresql = {
    .name = "postgresql",
    .open = pg_open,
};
