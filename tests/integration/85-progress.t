#!/bin/bash
# Progress on long work (issue 15): while intake copies and hashes a large
# drop, its outbox folder's STATUS reads "receiving N/M" (bytes), and while
# the engine signs it, "signing N/M"; the developer's status page shows the
# same. A real 1 GB PE (a mingw program with 1 GB appended), dropped by a
# real Unix user; STATUS is polled, nothing is timed.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
command -v x86_64-w64-mingw32-gcc >/dev/null || skip_all "mingw-w64 not installed"
command -v osslsigncode >/dev/null || skip_all "osslsigncode not installed"
chmod 755 "$T_DIR"
DEV=csg-dev$$
useradd -M -N -s /usr/sbin/nologin "$DEV" || exit 1
trap 'userdel "$DEV" 2>/dev/null; cleanup' EXIT

MAX_FILE_SIZE=3G
write_config
start_daemon || exit 1
INBOX=$SPOOL/inbox/$DEV

# Made beside the spool (same filesystem), so that the drop is a rename.
STAGE=$T_DIR/stage
mkdir "$STAGE"
chown "$DEV" "$STAGE"
printf '#include <stdio.h>\nint main(void){puts("big");return 0;}\n' >"$T_DIR/big.c"
x86_64-w64-mingw32-gcc -O1 -o "$STAGE/big.exe" "$T_DIR/big.c" || exit 1
head -c 1G /dev/urandom >>"$STAGE/big.exe"
chown "$DEV" "$STAGE/big.exe"
SIZE=$(stat -c %s "$STAGE/big.exe")

# Polls every STATUS in the developer's outbox and the page into a log,
# until the request is signed (or a minute has passed).
poll() {
	local end=$((SECONDS + 120))
	while [ $SECONDS -lt $end ]; do
		for s in "$SPOOL/outbox/$DEV"/*/STATUS; do
			[ -f "$s" ] && echo "STATUS $(cat "$s" 2>/dev/null)"
		done
		grep -o '<progress value="[0-9]*" max="[0-9]*">' "$SPOOL/outbox/$DEV/index.html" 2>/dev/null |
			sed 's/^/PAGE /'
		grep -q '^signed$' "$SPOOL/outbox/$DEV"/*/STATUS 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
poll >"$T_DIR/seen" &
POLLER=$!
runuser -u "$DEV" -- mv "$STAGE/big.exe" "$INBOX/big.exe"
wait $POLLER
ok $? "the 1 GB drop is signed"
grep "^STATUS" "$T_DIR/seen" | uniq | sed "s/^/#   /" | head -20

between() { # between PHASE: a "PHASE N/M" line with 0 < N < M and M the size
	awk -v p="STATUS $1" -v size="$SIZE" '
		index($0, p " ") == 1 { split($3, a, "/"); if (a[1] > 0 && a[1] < a[2] && a[2] == size) found = 1 }
		END { exit !found }' "$T_DIR/seen"
}
between receiving
ok $? "STATUS said 'receiving N/$SIZE' with 0 < N < $SIZE while intake copied"
between signing
ok $? "STATUS said 'signing N/$SIZE' with 0 < N < $SIZE while the engine ran"
awk '/^PAGE/ { split($0, a, "\""); if (a[2] > 0 && a[2] < a[4]) found = 1 } END { exit !found }' "$T_DIR/seen"
ok $? "the status page showed the work in progress (a <progress> part way)"
# Each line is whole: STATUS is replaced, never written in place.
grep -v -E '^(STATUS (receiving|signing) [0-9]+/[0-9]+|STATUS (created|approved|in_progress|signed)|PAGE .*)$' "$T_DIR/seen" >"$T_DIR/odd"
is "$(cat "$T_DIR/odd")" "" "every STATUS read was a whole line"

out=$(request_dir big.exe "$DEV")
check "the signed 1 GB PE verifies" osslsigncode verify -CAfile "$SPOOL/ca/ca.pem" -in "$out/big.exe"
grep -q '<progress' "$SPOOL/outbox/$DEV/index.html"
ok $((!$?)) "once signed, the page shows no progress bar"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
