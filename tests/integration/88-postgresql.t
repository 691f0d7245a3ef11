#!/bin/bash
# The state database on a PostgreSQL server (database { backend =
# "postgresql"; }): csodd creates the schema there and keeps no SQLite
# file, requests are signed, csodctl's changes reach the running daemon
# (the data version that PostgreSQL's notifications keep), a restart keeps
# everything, and the spool still refuses a database that is not its own.
# The other daemon tests run on PostgreSQL too with CSOD_TEST_DB=postgresql
# (make check-postgresql).
CSOD_TEST_DB=postgresql
. "$(dirname "$0")/lib.sh"
ctl() { csodctl --config "$CONF" "$@"; }
psql_admin() { "$PG_BIN/psql" -AtXq -v ON_ERROR_STOP=1 -d "$PG_CONNINFO" -c "$1"; }

# Refused before anything starts: a wrong block, a server that is not there
# (the database block in EXTRA, instead of lib.sh's).
CSOD_TEST_DB=sqlite
EXTRA='database = { backend = "postgresql"; };'
write_config
out=$(timeout 30 csodd --config "$CONF" --foreground 2>&1)
like "$out" "database.conninfo.*required" "backend postgresql without conninfo is refused"
EXTRA="database = { backend = \"sqlite\"; conninfo = \"$PG_CONNINFO\"; };"
write_config
out=$(timeout 30 csodd --config "$CONF" --foreground 2>&1)
like "$out" "database.conninfo.*only for backend" "a conninfo for SQLite is refused"
EXTRA="database = { backend = \"postgresql\"; conninfo = \"host=$T_DIR/nowhere dbname=csod user=csod\"; };"
write_config
out=$(timeout 30 csodd --config "$CONF" --foreground 2>&1)
ok $(($? == 0)) "csodd does not start when the server cannot be reached"
like "$out" "cannot connect to the database" "saying so"
EXTRA=
CSOD_TEST_DB=postgresql
rm -rf "$SPOOL"

write_config
start_daemon || exit 1
is "$(db_sql "SELECT version FROM schema_version")" \
	"$(grep -c '^    /\* [0-9]*:' "$CSOD_TOP/daemon/db_schema.c")" \
	"the schema is created on the server, at the latest version"
check "no SQLite file is made" test ! -e "$SPOOL/state/csod.db"
is "$(db_sql "SELECT \"user\" FROM developers")" "$DEV" "the configured developer is recorded there"

make_hash_drop a.sha256
drop_by_rename a.sha256
wait_state a.sha256 signed 30
ok $? "a drop is signed"
is "$(db_sql "SELECT state FROM requests")" signed "the request's state is on the server"
check "the audit chain verifies" ctl audit verify
like "$(ctl request list)" "dagwood .* signed" "csodctl lists it from the server"

# csodctl writes the server; the daemon hears of it through its data
# version (another connection's commit) and watches the new inbox.
check "developer add" ctl developer add blondie@dithercons.com --name "Blondie Bumstead" \
	--user blondie --organization "$ORG"
wait_for 20 test -d "$SPOOL/inbox/blondie"
make_hash_drop b.sha256
drop_by_rename b.sha256 blondie
wait_state b.sha256 signed 30 blondie
ok $? "the new developer's drop is signed without a restart"

# The server restarts under a running csodd: it connects again and goes on.
runuser -u csod-pg -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w restart \
	-o "-k $PG_DIR -c listen_addresses='' -c fsync=off" -l "$PG_DIR/server.log" >/dev/null
ok $? "the server restarts"
make_hash_drop c.sha256
drop_by_rename c.sha256
wait_state c.sha256 signed 30
ok $? "a drop after the restart is signed"
check "csodd is still running" daemon_alive

ca_before=$(openssl x509 -in "$SPOOL/ca/ca.pem" -noout -fingerprint)
stop_daemon
ok $? "csodd stops cleanly"
start_daemon || exit 1
is "$(openssl x509 -in "$SPOOL/ca/ca.pem" -noout -fingerprint)" "$ca_before" "a restart keeps the CA"
is "$(db_sql "SELECT count(*) FROM requests WHERE state = 'signed'")" 3 "and the requests"
check "and the audit chain" ctl audit verify
stop_daemon

# An empty database on the used spool: lost state, not a first start.
psql_admin "CREATE DATABASE other"
CSOD_TEST_DB=sqlite
EXTRA="database = { backend = \"postgresql\"; conninfo = \"${PG_CONNINFO/dbname=postgres/dbname=other}\"; };"
write_config
out=$(timeout 30 csodd --config "$CONF" --foreground 2>&1)
ok $(($? == 0)) "csodd refuses a fresh database on a used spool"
like "$out" "not this spool's database" "the spool identity check names it"
check "and keeps the conninfo out of the message" sh -c "! printf '%s' \"\$1\" | grep -q dbname=other" - "$out"

# Nodes that start together on a new database migrate it once: each waits
# for the others' migration (the write lock) and then finds it done.
psql_admin "CREATE DATABASE race"
EXTRA="database = { backend = \"postgresql\"; conninfo = \"${PG_CONNINFO/dbname=postgres/dbname=race}\"; };"
write_config
for i in 1 2 3 4; do
	csodctl --config "$CONF" --offline auto-approve on >"$T_DIR/race.$i" 2>&1 &
done
raced=0
for i in 1 2 3 4; do wait %$i || raced=1; done
ok $((raced)) "four csodctl migrating one new database at once all succeed"
[ "$raced" = 0 ] || sed 's/^/#   /' "$T_DIR"/race.*
is "$("$PG_BIN/psql" -AtXq -d "${PG_CONNINFO/dbname=postgres/dbname=race}" -c \
	"SELECT count(*) || ' ' || max(version) FROM schema_version")" \
	"1 $(grep -c '^    /\* [0-9]*:' "$CSOD_TOP/daemon/db_schema.c")" "and the schema is at the latest version, once"

# A writer that holds the write lock (a stuck csodctl, a node in a long
# transaction) makes the others wait as long as SQLite's busy timeout, then
# fail with a reason: no csodd hangs behind it.
RACE=${PG_CONNINFO/dbname=postgres/dbname=race}
"$PG_BIN/psql" -AtXq -d "$RACE" -c "BEGIN; SELECT pg_advisory_xact_lock(7305316180245616387); SELECT pg_sleep(20); COMMIT;" >/dev/null 2>&1 &
HOLDER=$!
sleep 1
t0=$(date +%s)
out=$(timeout 60 csodctl --config "$CONF" --offline auto-approve off 2>&1)
rc=$?
t1=$(date +%s)
ok $((rc == 0 || rc == 124)) "a write behind a held lock fails instead of waiting for it"
like "$out" "lock timeout" "with the reason"
ok $((t1 - t0 >= 15)) "after the lock timeout, not the holder's 20 s ($((t1 - t0)) s)"
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null

done_testing
