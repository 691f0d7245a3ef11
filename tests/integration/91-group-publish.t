#!/bin/bash
# Publishing in groups (docs/DESIGN.md "Publishing in groups"): a burst of
# drops is published with a durability round per batch, not an fsync per
# file; kill -9 in the middle of a burst leaves every request either
# recorded as signed with all its files in place and whole, or not signed
# (then signed again after a restart), and no temporary file in any outbox.
. "$(dirname "$0")/lib.sh"

command -v strace >/dev/null || skip_all "strace not installed"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
write_config
start_daemon || exit 1
DB=$SPOOL/state/csod.db

# burst PREFIX N: N digest drops (of files $T_DIR/PREFIX/PREFIX-i) made at once.
burst() {
	mkdir -p "$T_DIR/$1"
	for i in $(seq 1 "$2"); do
		head -c 64 /dev/urandom >"$T_DIR/$1/$1-$i"
		(cd "$T_DIR/$1" && sha256sum "$1-$i") >"$T_DIR/$1/$1-$i.sha256"
		cp "$T_DIR/$1/$1-$i.sha256" "$SPOOL/inbox/$DEV/.$1-$i.tmp"
	done
	for i in $(seq 1 "$2"); do
		mv "$SPOOL/inbox/$DEV/.$1-$i.tmp" "$SPOOL/inbox/$DEV/$1-$i.sha256"
	done
}
signed_count() { sqlite3 "$DB" "SELECT count(*) FROM requests WHERE state = 'signed' AND drop_name LIKE '$1-%'"; }

# One request first: the developer's key and certificate.
make_hash_drop first.sha256
drop_by_rename first.sha256
wait_state first.sha256 signed 60
ok $? "a first drop is signed"

# The durability rounds of a burst, counted with strace: publishing a
# request without groups fsyncs ~10 files and folders (its signature,
# chain.pem, request.json, STATUS, details.json twice each and their
# folders); intake's own fsyncs (the store copy) are not counted here.
strace -f -qq -y -e trace=fsync,fdatasync,syncfs -o "$T_DIR/sync.trace" -p "$DAEMON_PID" &
tracer=$!
sleep 1
burst a 60
wait_for 120 sh -c "[ \$(sqlite3 '$DB' \"SELECT count(*) FROM requests WHERE state = 'signed' AND drop_name LIKE 'a-%'\") -eq 60 ]"
ok $? "a burst of 60 drops is signed"
sleep 1
kill -INT "$tracer"
wait "$tracer" 2>/dev/null
syncs=$(grep -c 'syncfs(' "$T_DIR/sync.trace")
published=$(grep -E 'f(data)?sync\(' "$T_DIR/sync.trace" |
	grep -Ec "<$SPOOL/(tmp/\.|outbox/|requests)")
diag "during the burst: $syncs syncfs, $published fsyncs of published files and folders"
ok $((syncs > 0 ? 0 : 1)) "the burst is published in groups (syncfs rounds)"
# Batches are as large as the burst's timing makes them (an ASan build on a
# busy machine finishes its jobs further apart): ~1.7 a request when they
# are large, somewhat more when small, never the ~14.5 of one by one.
ok $((published < 240 ? 0 : 1)) "fewer than 4 fsyncs per request for publishing ($published for 60)"

# kill -9 in the middle of a burst, while batches are being published.
burst b 120
wait_for 120 sh -c "[ \$(sqlite3 '$DB' \"SELECT count(*) FROM requests WHERE state = 'signed' AND drop_name LIKE 'b-%'\") -ge 20 ]"
ok $? "the second burst is being published"
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
done_before=$(signed_count b)
ok $((done_before < 120 ? 0 : 1)) "killed mid-burst ($done_before of 120 recorded as signed)"
is "$(find "$SPOOL/outbox" -name '.*' | wc -l)" 0 "no temporary file in any outbox after kill -9"

# Every request the database calls signed has its files, whole.
missing=0 bad=0
while IFS='|' read -r id drop; do
	out=$(outbox_of_id "$DEV" "$id")
	if [ ! -s "$out/chain.pem" ] || [ ! -f "$out/$drop.p7s" ]; then
		missing=$((missing + 1))
		continue
	fi
	openssl cms -cmsout -inform DER -in "$out/$drop.p7s" -noout 2>/dev/null || bad=$((bad + 1))
done < <(sqlite3 "$DB" "SELECT id, drop_name FROM requests WHERE state = 'signed' AND drop_name LIKE 'b-%'")
is "$missing" 0 "every request recorded as signed has its signature and chain.pem in its outbox"
is "$bad" 0 "and every such signature is whole"
# A signature in an outbox is whole, recorded or not.
bad=0
for f in "$SPOOL/outbox/$DEV"/*/b-*.p7s; do
	[ -f "$f" ] || continue
	openssl cms -cmsout -inform DER -in "$f" -noout 2>/dev/null || bad=$((bad + 1))
done
is "$bad" 0 "every published signature parses, recorded or not"

start_daemon || exit 1
# Nobody approves anything by hand: a drop the kill caught between being
# recorded and being auto-approved was recorded approved (one transaction).
wait_for 180 sh -c "[ \$(sqlite3 '$DB' \"SELECT count(*) FROM requests WHERE state = 'signed' AND drop_name LIKE 'b-%'\") -eq 120 ]"
ok $? "after a restart all 120 are signed"
wait_for 30 sh -c "[ \$(grep -lx signed '$SPOOL'/outbox/$DEV/*' b-'*/STATUS | wc -l) -eq 120 ]"
ok $? "and every outbox says so"
n=$(sqlite3 "$DB" "SELECT count(*) FROM requests WHERE drop_name LIKE 'b-%'")
is "$n" 120 "exactly one request per drop"
bad=0 extra=0
for i in $(seq 1 120); do
	out=$(request_dir "b-$i.sha256") || { bad=$((bad + 1)); continue; }
	verify_p7s "$out/b-$i.sha256.p7s" "$T_DIR/b/b-$i" 2>/dev/null || bad=$((bad + 1))
	[ "$(ls -A "$out" | sort | tr '\n' ' ')" = "STATUS b-$i.sha256.p7s chain.pem request.json " ] ||
		extra=$((extra + 1))
done
is "$bad" 0 "each of the 120 signatures verifies against its file and the CA"
is "$extra" 0 "each outbox folder holds its signature, chain.pem, request.json and STATUS, nothing else"
is "$(find "$SPOOL/outbox" -name '.*' | wc -l)" 0 "no temporary file in any outbox"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
