#!/bin/bash
# A developer account attacking csodd through what it drops (issue 12,
# attacks 1 and 2): removal races through symbolic links, trees too deep to
# walk by path, request.conf @include of files the developer cannot read,
# and a lost database that must not be silently re-created.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
chmod 755 "$T_DIR"
RACER=$CSOD_TOP/tests/integration/helpers/drop_racer.py

DEV=csodt-drop$$
useradd -M -N -s /usr/sbin/nologin "$DEV" || exit 1
trap 'userdel "$DEV" 2>/dev/null; cleanup' EXIT
write_config
start_daemon || exit 1
IN=$SPOOL/inbox/$DEV
as_dev() { runuser -u "$DEV" -- "$@"; }

state_intact() {
	test -s "$SPOOL/state/csod.db" && test -s "$SPOOL/state/master.key" &&
		test -s "$SPOOL/ca/ca.pem"
}
check "the spool's state is there to attack" state_intact
db_id=$(sqlite3 "$SPOOL/state/csod.db" "SELECT value FROM settings WHERE key = 'spool_id'")
like "$db_id" '^[0-9a-f]{32}$' "the database records the spool's id"
is "$(cat "$SPOOL/.csod-spool-id")" "$db_id" "and so does the spool"

# 1. Removal through a swapped link. The developer keeps a descriptor on
# their folder after it leaves the inbox and swaps a subfolder with a link
# to state/ while csodd refuses and removes the drop.
locked=0
for i in 1 2 3 4 5 6; do
	out=$(as_dev "$RACER" race "$IN" "race$i" "$SPOOL/state" 3)
	diag "race$i: $out"
	[ "$out" = locked-out ] && locked=$((locked + 1))
	wait_state "race$i" failed 30 || break
done
check "state/ survives six removal races (csod.db, master.key, the CA)" state_intact
check "csodd is still running" daemon_alive
is "$locked" 6 "every racer was locked out of its folder once csodd took it over"
like "$(cat "$(request_dir race1)/ERROR")" "(folder inside a folder drop|lnk: is a symbolic link)" "the drop was refused for its subfolder or link"
wait_for 20 sh -c "[ -z \"\$(ls -A '$SPOOL/store/incoming')\" ]"
ok $? "store/incoming holds nothing after the refused drops"

# A drop that is itself a link to state/ is refused, and the link alone goes.
as_dev ln -s "$SPOOL/state" "$IN/statelink"
wait_state statelink failed 30
like "$(cat "$(request_dir statelink)/ERROR")" "statelink: is a symbolic link" "a drop that is a link is refused"
check "and what it points to is untouched" state_intact

# 2. A 3,000-level tree: deeper than any path can name. It is refused and
# removed entirely, not left in store/incoming forever.
as_dev "$RACER" deep "$IN" deep 3000
wait_state deep failed 60
ok $? "a 3,000-level folder drop is refused"
wait_for 60 sh -c "[ -z \"\$(ls -A '$SPOOL/store/incoming')\" ]"
ok $? "and removed from store/incoming"
is "$(find "$SPOOL/store" "$SPOOL/tmp" -mindepth 1 -not -name incoming | wc -l)" 0 "nothing of it is left in store/ or tmp/"

# 3. request.conf may not read other files as the daemon.
printf 'version = "TOPSECRET-%s";\n' $$ >"$T_DIR/secret.conf"
chmod 600 "$T_DIR/secret.conf"
check "the developer cannot read the secret themselves" sh -c "! runuser -u $DEV -- cat $T_DIR/secret.conf 2>/dev/null"
make_hash_drop inc.sha256
as_dev mkdir "$IN/inc.tmp"
as_dev cp "$T_DIR/inc.sha256" "$IN/inc.tmp/"
as_dev sh -c "printf '@include \"%s\"\n' '$T_DIR/secret.conf' > '$IN/inc.tmp/request.conf'"
as_dev mv "$IN/inc.tmp" "$IN/inc"
wait_state inc failed 30
ok $? "a request.conf with @include is refused"
like "$(cat "$(request_dir inc)/ERROR")" "@include is not allowed" "with the reason"
check "the secret is nowhere in the outbox or the approvers' views" sh -c "! grep -r TOPSECRET '$SPOOL/outbox' '$SPOOL/requests' '$SPOOL/mail'"

# Including a FIFO blocked every intake thread, SIGTERM and the next start.
mkfifo -m 666 "$T_DIR/fifo.conf"
as_dev mkdir "$IN/fifo.tmp"
as_dev cp "$T_DIR/inc.sha256" "$IN/fifo.tmp/"
as_dev sh -c "printf 'version = \"1\";\n@include \"%s\"\n' '$T_DIR/fifo.conf' > '$IN/fifo.tmp/request.conf'"
as_dev mv "$IN/fifo.tmp" "$IN/fifo"
wait_state fifo failed 30
ok $? "a request.conf including a FIFO is refused without reading it"
make_hash_drop after.sha256
as_dev cp "$T_DIR/after.sha256" "$IN/.after.tmp"
as_dev mv "$IN/.after.tmp" "$IN/after.sha256"
wait_state after.sha256 signed 30
ok $? "intake goes on after the FIFO"

# request.conf itself as a FIFO or a link to a root-only file.
for kind in fifo link; do
	as_dev mkdir "$IN/rc$kind.tmp"
	as_dev cp "$T_DIR/inc.sha256" "$IN/rc$kind.tmp/"
	if [ $kind = fifo ]; then
		as_dev mkfifo "$IN/rc$kind.tmp/request.conf"
	else
		as_dev ln -s "$T_DIR/secret.conf" "$IN/rc$kind.tmp/request.conf"
	fi
	as_dev mv "$IN/rc$kind.tmp" "$IN/rc$kind"
	wait_state "rc$kind" failed 30
	ok $? "a request.conf that is a $kind is refused"
done
like "$(cat "$(request_dir rclink)/ERROR")" "request.conf: is a symbolic link" "the link is named as such"
check "csodd is still running after every attack" daemon_alive
t0=$(date +%s)
stop_daemon
ok $? "csodd stops cleanly"
check "and promptly" test $(($(date +%s) - t0)) -lt 10

# 4. A lost database is not re-created silently: the spool remembers it.
mv "$SPOOL/state/csod.db" "$T_DIR/csod.db.saved"
rm -f "$SPOOL/state/csod.db-wal" "$SPOOL/state/csod.db-shm"
csodd --config "$CONF" --foreground >"$T_DIR/lost.out" 2>&1 &
pid=$!
wait_for 20 sh -c "! kill -0 $pid 2>/dev/null"
ok $? "csodd refuses to start without the spool's database"
wait "$pid"
isnt_zero=$?
check "with a failing exit status" test "$isnt_zero" -ne 0
like "$(cat "$T_DIR/lost.out")" "not this spool's database.*Restore the database" "saying what is wrong and what to do"
check "no new master key or CA was made meanwhile" test "$(cat "$SPOOL/.csod-spool-id")" = "$db_id"
rm -f "$SPOOL/state/csod.db" "$SPOOL/state/csod.db-wal" "$SPOOL/state/csod.db-shm"
mv "$T_DIR/csod.db.saved" "$SPOOL/state/csod.db"

mv "$SPOOL/state/master.key" "$T_DIR/master.key.saved"
csodd --config "$CONF" --foreground >"$T_DIR/nokey.out" 2>&1 &
pid=$!
wait_for 20 sh -c "! kill -0 $pid 2>/dev/null"
ok $? "csodd refuses to start without the master key its keys are sealed under"
like "$(cat "$T_DIR/nokey.out")" "master key file .* is missing, but [0-9]+ key\\(s\\) are sealed" "saying so"
check "and makes no new master key" test ! -e "$SPOOL/state/master.key"
mv "$T_DIR/master.key.saved" "$SPOOL/state/master.key"

start_daemon || exit 1
make_hash_drop back.sha256
as_dev cp "$T_DIR/back.sha256" "$IN/.back.tmp"
as_dev mv "$IN/.back.tmp" "$IN/back.sha256"
wait_state back.sha256 signed 30
ok $? "with both restored, csodd starts and signs again"
verify_p7s "$(request_dir back.sha256)/back.sha256.p7s" "$T_DIR/back.sha256.data" 2>/dev/null
ok $? "with the same CA as before"
stop_daemon
done_testing
