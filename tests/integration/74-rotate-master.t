#!/bin/bash
# csodctl keys rotate-master: every database key resealed under a new master
# key in one transaction, the daemon still signs after a restart, and the two
# ways a crash can interrupt a rotation are recovered at start-up.
. "$(dirname "$0")/lib.sh"
write_config
ctl() { csodctl --config "$CONF" "$@"; }
KEY=$SPOOL/state/master.key
# hex() is SQLite's, encode() PostgreSQL's
hexblob="hex(blob)"
[ "${CSOD_TEST_DB:-sqlite}" = postgresql ] && hexblob="encode(blob, 'hex')"
blobs() { db_sql "SELECT $hexblob FROM keys WHERE backend='database' ORDER BY id"; }

start_daemon || exit 1
make_hash_drop a.sha256
drop_by_rename a.sha256
wait_state a.sha256 signed
ok $? "signed with the first master key"
out=$(ctl keys rotate-master 2>&1)
is "$?" 1 "rotation is refused while csodd runs"
like "$out" "csodd is running .* stop it first" "saying why"
stop_daemon

# Only root or an MRAO may rotate: a plain user is refused before anything
# is read.
if [ "$(id -u)" = 0 ] && useradd -M -N -s /usr/sbin/nologin "csodt-rot$$"; then
	trap 'userdel "csodt-rot$$" 2>/dev/null; cleanup' EXIT
	chmod 755 "$T_DIR"
	chmod 644 "$CONF"
	cp "$KEY" "$T_DIR/key.0"
	out=$(runuser -u "csodt-rot$$" -- csodctl --config "$CONF" keys rotate-master 2>&1)
	is "$?" 1 "a user who is no MRAO may not rotate the master key"
	like "$out" "csodt-rot$$ may not rotate the master key" "and is told so"
	check "the master key file is unchanged" cmp -s "$KEY" "$T_DIR/key.0"
else
	fail "a user to try rotate-master as (needs root and useradd)"
fi

cp "$KEY" "$T_DIR/key.1"
before=$(blobs)
nkeys=$(db_sql "SELECT COUNT(*) FROM keys WHERE backend='database'")
out=$(ctl keys rotate-master 2>&1)
ok $? "csodctl keys rotate-master"
like "$out" "$nkeys key\\(s\\) resealed" "every key ($nkeys) is resealed"
check "the master key file changed" sh -c "! cmp -s '$KEY' '$T_DIR/key.1'"
is "$(stat -c %a "$KEY")" 400 "the new master key file has mode 0400"
test ! -e "$KEY.new"
ok $? "no .new file is left behind"
after=$(blobs)
check "every sealed blob changed" /usr/bin/python3 -c '
import sys
a, b = sys.argv[1].split(), sys.argv[2].split()
sys.exit(0 if len(a) == len(b) and len(a) > 0 and all(x != y for x, y in zip(a, b)) else 1)' "$before" "$after"
check "the rotation is audited" sh -c "db_sql 'SELECT action FROM audit' | grep -qx keys.rotate_master"

start_daemon || exit 1
make_hash_drop b.sha256
drop_by_rename b.sha256
wait_state b.sha256 signed
ok $? "after rotation and a restart the daemon still signs"
check "with the developer's key" verify_p7s "$(request_dir b.sha256)/b.sha256.p7s" "$T_DIR/b.sha256.data"
stop_daemon

# The old key no longer opens anything.
cp "$KEY" "$T_DIR/key.2"
chmod 600 "$KEY"; cp "$T_DIR/key.1" "$KEY"; chmod 400 "$KEY"
start_daemon || exit 1
make_hash_drop c.sha256
drop_by_rename c.sha256
wait_state c.sha256 failed
ok $? "the old master key no longer opens the keys"
like "$(cat "$(request_dir c.sha256)/ERROR")" "cannot be unsealed: wrong master key" "saying why"
stop_daemon

# Crash after the commit, before the rename: the old file is still in place
# and the new one beside it as .new; start-up finishes the rotation.
chmod 600 "$KEY"; cp "$T_DIR/key.1" "$KEY"; chmod 400 "$KEY"
cp "$T_DIR/key.2" "$KEY.new"; chmod 400 "$KEY.new"
start_daemon || exit 1
make_hash_drop d.sha256
drop_by_rename d.sha256
wait_state d.sha256 signed
ok $? "a rotation interrupted after its commit is finished at start-up"
check "the new key is in place" cmp -s "$KEY" "$T_DIR/key.2"
wait_for 20 test ! -e "$KEY.new"
ok $? "and the .new file is gone"
like "$(cat "$LOG")" "finishing an interrupted master key rotation" "the daemon says so"
stop_daemon

# Crash before the commit: a .new that opens nothing is removed.
head -c 32 /dev/urandom >"$KEY.new"; chmod 400 "$KEY.new"
start_daemon || exit 1
wait_for 20 test ! -e "$KEY.new"
ok $? "a rotation interrupted before its commit is rolled back (the .new is removed)"
check "the master key is unchanged" cmp -s "$KEY" "$T_DIR/key.2"
make_hash_drop e.sha256
drop_by_rename e.sha256
wait_state e.sha256 signed
ok $? "and the daemon signs"
stop_daemon

# A wrong master key: rotation refuses and changes nothing.
chmod 600 "$KEY"; head -c 32 /dev/urandom >"$KEY"; chmod 400 "$KEY"
before=$(blobs)
out=$(ctl keys rotate-master 2>&1)
is "$?" 1 "rotation with a wrong master key fails"
like "$out" "cannot be unsealed with the current master key .*nothing was changed" "saying why"
is "$(blobs)" "$before" "and the database is unchanged"
test ! -e "$KEY.new"
ok $? "with no .new file left"
done_testing
