#!/bin/bash
# A full spool (issue 12, item 8), on a small tmpfs of its own: drops the
# spool has no room for stay in the inbox with the reason shown and are
# taken when space returns; an intake, a signing or a database commit that
# still runs out of space leaves nothing half done and is tried again by
# the running daemon, never left without a STATUS or in_progress for good.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to mount a tmpfs and create users"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
chmod 755 "$T_DIR"
TSA_DIR=$T_DIR/tsa
mkdir -p "$SPOOL" "$TSA_DIR"
DEV=csodt-full$$
useradd -M -N -s /usr/sbin/nologin "$DEV" || exit 1
finish() {
	[ -n "${TSA_PID:-}" ] && kill "$TSA_PID" 2>/dev/null
	[ -n "${DAEMON_PID:-}" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	umount "$SPOOL" 2>/dev/null || umount -l "$SPOOL" 2>/dev/null
	userdel "$DEV" 2>/dev/null
	cleanup
}
trap finish EXIT
mount -t tmpfs -o size=40M,nr_inodes=4000,mode=755 tmpfs "$SPOOL" || skip_all "cannot mount a tmpfs"

# A TSA that holds its answer while $TSA_DIR/hold exists: a signing is then
# in flight, between its signature and the writing of it.
/usr/bin/python3 "$CSOD_TOP/tests/integration/helpers/hold_tsa.py" "$TSA_DIR" >/dev/null 2>&1 &
TSA_PID=$!
wait_for 10 test -s "$TSA_DIR/port" || { echo "# the TSA did not start"; exit 1; }
: >"$TSA_DIR/requests"
EXTRA="min_free_space = \"4M\";
timestamp = { url = \"http://127.0.0.1:$(cat "$TSA_DIR/port")/tsa\"; required = false; timeout = \"60s\"; retries = 0; };"
write_config
start_daemon || exit 1
PID=$DAEMON_PID
IN=$SPOOL/inbox/$DEV
as_dev() { runuser -u "$DEV" -- "$@"; }

avail() { echo $(($(stat -f -c '%a * %S' "$SPOOL"))); }
fill_leaving() { # fill_leaving BYTES: a filler takes all but BYTES of the free space
	fallocate -l $(($(avail) - $1)) "$SPOOL/filler"
}
# stage NAME: the developer writes $T_DIR/NAME into the inbox under a name
# csodd ignores (.NAME.tmp) while there is room; drop NAME renames it.
stage() { as_dev cp "$T_DIR/$1" "$IN/.$1.tmp"; }
drop() { as_dev mv "$IN/.$1.tmp" "$IN/$1"; }
id_of() { dir_id "$(request_dir "$1")"; }
logged() { grep -q -- "$1" "$LOG"; }

# 1. No room: drops stay in the inbox, untouched, and the developer is told.
make_hash_drop a.sha256
make_hash_drop b.sha256
make_hash_drop c.sha256
stage a.sha256
as_dev mkdir "$IN/.fold.tmp"
as_dev cp "$T_DIR/b.sha256" "$T_DIR/c.sha256" "$IN/.fold.tmp/"
# Sparse: 0 blocks in the inbox, their whole size once copied.
as_dev truncate -s 12M "$IN/.sparse.sha256.tmp"
as_dev truncate -s 50M "$IN/.huge.bin.tmp"
fill_leaving $((2 << 20))
drop a.sha256
drop fold
drop sparse.sha256
drop huge.bin

wait_state huge.bin failed 30
ok $? "a drop larger than the spool can ever hold fails at once"
like "$(cat "$(request_dir huge.bin)/ERROR" 2>/dev/null)" "huge.bin: it needs 50.0 MiB .* can never be taken" \
	"counting its full size, though it is sparse, with the reason"
wait_for 15 grep -q "^sparse.sha256: " "$SPOOL/outbox/$DEV/ERROR"
ok $? "the developer finds why the others wait in outbox/<developer>/ERROR"
note=$(cat "$SPOOL/outbox/$DEV/ERROR" 2>/dev/null)
like "$note" "a.sha256: not taken yet, it stays in your inbox until the spool has room: the spool has [12]\.[0-9] MiB free and keeps 4.0 MiB of it in reserve \(min_free_space\); this needs 4 KiB" \
	"a hash file waits for room beyond the reserve"
like "$note" "fold: not taken yet" "so does a folder drop"
like "$note" "sparse.sha256: .* this needs 12.0 MiB" "a sparse file counts its full size"
sleep 3
check "the drops are still in the inbox, untouched" test -f "$IN/a.sha256" -a -f "$IN/fold/b.sha256" -a -f "$IN/sparse.sha256"
check "nothing of them was taken" sh -c "[ -z \"\$(ls -A '$SPOOL/store/incoming')\" ] && ! grep -q '\"drop\": \"a.sha256\"' '$SPOOL'/outbox/$DEV/*/request.json"
is "$(grep -c "$DEV/a.sha256: left in the inbox until the spool has room" "$LOG")" 1 "the log says so once"
rm -f "$SPOOL/filler"
wait_state a.sha256 signed 30
ok $? "once space returns the waiting hash file is signed, without a restart"
verify_p7s "$(request_dir a.sha256)/a.sha256.p7s" "$T_DIR/a.sha256.data" 2>/dev/null
ok $? "and its signature verifies"
wait_state fold signed 30
ok $? "so is the folder drop"
verify_p7s "$(request_dir fold)/b.sha256.p7s" "$T_DIR/b.sha256.data" 2>/dev/null &&
	verify_p7s "$(request_dir fold)/c.sha256.p7s" "$T_DIR/c.sha256.data" 2>/dev/null
ok $? "both of its signatures verify"
wait_state sparse.sha256 failed 30
ok $? "the sparse file is taken and judged on what it is"
unlike_space=$(cat "$(request_dir sparse.sha256)/ERROR" 2>/dev/null)
like "$unlike_space" "sparse.sha256: " "with a reason that names it"
check "which is not the disk" sh -c "! grep -qi 'space' '$(request_dir sparse.sha256)/ERROR'"
wait_for 10 test ! -e "$SPOOL/outbox/$DEV/ERROR"
ok $? "the note is gone once nothing waits"

# 2. Drops that fit the check but still hit ENOSPC: the spool's inodes
# are used up (the check counts bytes). With none left the drop cannot be
# moved out of the inbox and waits there; with one left it is moved into
# store/incoming but its copy cannot be made: it keeps its store/incoming
# copy. Both are finished once space returns.
make_hash_drop d.sha256
make_hash_drop e.sha256
stage d.sha256
stage e.sha256
mkdir "$SPOOL/inodes"
i=0
while : 2>/dev/null >"$SPOOL/inodes/$i"; do i=$((i + 1)); done
diag "$i files took the spool's inodes"
drop d.sha256
wait_for 20 logged "$DEV/d.sha256: left in the inbox until the spool has room: cannot move it out of the inbox: No space left on device"
ok $? "a drop that cannot be moved out of the inbox waits there"
sleep 3
check "it is still in the inbox" test -f "$IN/d.sha256"
rm "$SPOOL/inodes/0"
drop e.sha256
wait_for 20 logged "$DEV/e.sha256: kept in store/incoming until the spool has room"
ok $? "an intake that runs out of space keeps the drop and says so"
check "it left the inbox" test ! -e "$IN/e.sha256"
check "its copy waits in store/incoming" sh -c "ls '$SPOOL'/store/incoming/*/e.sha256"
rm -rf "$SPOOL/inodes"
wait_state e.sha256 signed 60
ok $? "once space returns the running daemon takes it again and signs it"
verify_p7s "$(request_dir e.sha256)/e.sha256.p7s" "$T_DIR/e.sha256.data" 2>/dev/null
ok $? "and its signature verifies"
wait_state d.sha256 signed 30
ok $? "it also takes and signs the drop that waited in the inbox"
wait_for 10 sh -c "[ -z \"\$(ls -A '$SPOOL/store/incoming')\" ]"
ok $? "store/incoming is empty again"

# in_flight NAME: drops NAME while the TSA holds its answer, and waits until
# its signing is in flight (and its in_progress STATUS written).
in_flight() {
	make_hash_drop "$1"
	stage "$1"
	touch "$TSA_DIR/hold"
	local n0
	n0=$(wc -l <"$TSA_DIR/requests")
	drop "$1"
	wait_for 20 sh -c "[ \$(wc -l <'$TSA_DIR/requests') -gt $n0 ]" && wait_state "$1" in_progress 10
}
no_outputs() { # no_outputs NAME: the outbox of its request shows nothing signed
	local dir
	dir=$(request_dir "$1") && test ! -e "$dir/$1.p7s" -a ! -e "$dir/chain.pem"
}

# 3. The signing's output does not fit: nothing is published, the request
# stays in_progress while it waits, and it is signed once space returns.
in_flight f.sha256
ok $? "a signing is in flight"
sleep 1
fill_leaving 0
rm -f "$TSA_DIR/hold"
id=$(id_of f.sha256)
wait_for 20 logged "\[$id\] signing waits for room on the spool: .*No space left on device"
ok $? "a signing that runs out of space waits for room"
check "nothing of it is in the outbox" no_outputs f.sha256
is "$(state_of f.sha256)" in_progress "the request shows in_progress, not a half-published state"
rm -f "$SPOOL/filler"
wait_state f.sha256 signed 60
ok $? "once space returns it is signed"
verify_p7s "$(request_dir f.sha256)/f.sha256.p7s" "$T_DIR/f.sha256.data" 2>/dev/null
ok $? "and its signature verifies"

# 4. The outputs fit but the database cannot record the signing (its WAL
# must grow): the outputs are taken back, never shown with an in_progress
# STATUS, and the request is signed again once space returns.
in_flight g.sha256
ok $? "another signing is in flight"
sleep 2
sqlite3 "$SPOOL/state/csod.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
is "$(stat -c %s "$SPOOL/state/csod.db-wal")" 0 "the database's WAL is empty: a commit must grow it"
fill_leaving 8192
rm -f "$TSA_DIR/hold"
id=$(id_of g.sha256)
wait_for 20 logged "\[$id\] signing waits for room on the spool: database: database or disk is full"
ok $? "a signing the full database cannot record waits for room"
check "its outputs were taken back from the outbox" no_outputs g.sha256
is "$(state_of g.sha256)" in_progress "the request still shows in_progress"
check "no rollback of a transaction SQLite already rolled back" sh -c "! grep -q 'cannot rollback' '$LOG'"
rm -f "$SPOOL/filler"
wait_state g.sha256 signed 60
ok $? "once space returns it is signed"
verify_p7s "$(request_dir g.sha256)/g.sha256.p7s" "$T_DIR/g.sha256.data" 2>/dev/null
ok $? "and its signature verifies"

check "csodd ran throughout" daemon_alive
is "$DAEMON_PID" "$PID" "without a restart"
is "$(grep -c 'csodd started' "$LOG")" 1 "started once"
check "the audit log is intact" csodctl --config "$CONF" audit verify
stop_daemon
ok $? "csodd stops cleanly"
done_testing
