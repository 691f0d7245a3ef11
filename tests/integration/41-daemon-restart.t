#!/bin/bash
# Nothing is lost across a stop, a restart, or kill -9 at any point, and no
# partial file ever shows in an outbox.
. "$(dirname "$0")/lib.sh"

MAX_FILE_SIZE=1G
write_config
start_daemon || exit 1
stop_daemon

# Drops made while the daemon is down are taken at start.
make_hash_drop down1.sha256
make_hash_drop down2.sha256
cp "$T_DIR/down1.sha256" "$T_DIR/down2.sha256" "$SPOOL/inbox/$DEV/"
start_daemon
wait_state down1.sha256 signed && wait_state down2.sha256 signed
ok $? "drops made while csodd was down are signed after a start"

# kill -9 during intake: a big folder drop that takes a while to copy.
mkdir "$T_DIR/big"
head -c 200000000 /dev/zero >"$T_DIR/big/huge.bin"
make_hash_drop inner.sha256
cp "$T_DIR/inner.sha256" "$T_DIR/big/"
cp -r "$T_DIR/big" "$SPOOL/inbox/$DEV/.big.tmp"
mv "$SPOOL/inbox/$DEV/.big.tmp" "$SPOOL/inbox/$DEV/big"
wait_for 10 sh -c "ls '$SPOOL/store/incoming/' | grep -q ."
ok $? "the drop is in store/incoming, its intake under way, when csodd is killed"
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
check "the drop left the inbox before the kill" test ! -e "$SPOOL/inbox/$DEV/big"
start_daemon
wait_state big failed 60
ok $? "the interrupted intake is finished after a restart (as a request)"
out=$(request_dir big)
like "$(cat "$out/ERROR")" "huge.bin: unknown file type" "and it fails for the right reason"
n=$(grep -l '"drop": "big"' "$SPOOL"/outbox/$DEV/*/request.json | wc -l)
is "$n" 1 "exactly one request for the drop"
check "store/incoming is empty" test -z "$(ls -A "$SPOOL/store/incoming")"

# kill -9 during signing: a folder of many digests keeps the workers busy.
mkdir "$T_DIR/many"
for i in $(seq 1 400); do
	echo "$(printf '%064x' "$i")  f$i" >"$T_DIR/many/f$i.sha256"
done
cp -r "$T_DIR/many" "$SPOOL/inbox/$DEV/.many.tmp"
mv "$SPOOL/inbox/$DEV/.many.tmp" "$SPOOL/inbox/$DEV/many"
wait_state many in_progress 60
ok $? "the big request is being signed"
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
out=$(request_dir many)
partial=$(find "$SPOOL/outbox" -name '.*' | wc -l)
is "$partial" 0 "no temporary file is visible in any outbox after kill -9"
start_daemon
wait_state many signed 120
ok $? "signing resumes after a restart"
is "$(ls "$out"/*.p7s | wc -l)" 400 "all 400 signatures are there"
bad=0
for f in "$out"/*.p7s; do
	openssl cms -cmsout -inform DER -in "$f" -noout 2>/dev/null || bad=$((bad + 1))
done
is "$bad" 0 "every published signature parses (none half-written)"
n=$(grep -l '"drop": "many"' "$SPOOL"/outbox/$DEV/*/request.json | wc -l)
is "$n" 1 "still exactly one request"
check "tmp/ holds nothing published" test -z "$(find "$SPOOL/tmp" -type f -name '*.p7s')"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
