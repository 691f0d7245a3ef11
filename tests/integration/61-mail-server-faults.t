#!/bin/bash
# Mail through an SMTP server on loopback that refuses (550), defers (451),
# stalls after its greeting or never greets (tests/fixtures/smtp_faults.py):
# a refusal is final and audited, a deferral is retried with the same Date
# and Message-ID, and whatever the server does, a reload and a stop take
# effect at once, a message cut off by the stop staying queued.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
FAULTS=$T_DIR/faults
mkdir -p "$FAULTS"
echo accept >"$FAULTS/mode"
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 "$CSOD_TOP/tests/fixtures/smtp_faults.py" "$PORT" "$FAULTS" >"$T_DIR/faults.out" 2>&1 &
FAULTS_PID=$!
trap 'kill $FAULTS_PID 2>/dev/null; cleanup' EXIT
wait_for 10 /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT))"
ok $? "the misbehaving SMTP server is up"

DB=$SPOOL/state/csod.db
q() { sqlite3 "$DB" "$1"; }
server_mode() { echo "$1" >"$FAULTS/mode"; }
# mail_config TIMEOUT MAX_AGE: csodd's mail group for this server.
mail_config() {
	sed -i "s|^mail = .*|mail = { transport = \"smtp\"; host = \"127.0.0.1\"; port = $PORT; starttls = \"if-available\"; from = \"csod@dithercons.com\"; retry = \"2s\"; timeout = \"$1\"; max_age = \"$2\"; };|" "$CONF"
}
reloads() { grep -c "configuration reloaded" "$LOG"; }
reload() {
	local n
	n=$(reloads)
	kill -HUP "$DAEMON_PID"
	wait_for "${1:-10}" sh -c "[ \$(grep -c 'configuration reloaded' '$LOG') -gt $n ]"
}
# signed_drop NAME: drops NAME, waits until it is signed, prints the id.
signed_drop() {
	make_hash_drop "$1"
	drop_by_rename "$1"
	wait_state "$1" signed || return 1
	dir_id "$(request_dir "$1")"
}
# kept DIR ID: the file the server kept in DIR (new, deferred) for the
# signed notice of request ID.
kept() { grep -l "is signed (request $2)" "$FAULTS/$1"/*.eml 2>/dev/null | head -1; }
header() { grep -m1 "^$1: " "$2" | tr -d '\r'; }

write_config
mail_config 30s 1h
start_daemon || exit 1
wait_for 30 sh -c "grep -l 'certificate [0-9]* issued' '$FAULTS'/new/*.eml 2>/dev/null | grep -q ."
ok $? "mail goes out while the server accepts"

# The notice is queued in the transaction of the state it announces. When
# its row cannot be written (as if csodd died between the two), the request
# is not signed either; before, it was signed and its mail was lost. After
# a restart it is signed again, with its notice.
q "CREATE TRIGGER no_mail BEFORE INSERT ON mail_queue BEGIN SELECT RAISE(ABORT, 'no mail now'); END;"
make_hash_drop t.sha256
drop_by_rename t.sha256
wait_for 20 grep -q "no mail now" "$LOG"
ok $? "the notice cannot be queued"
sleep 1
is "$(state_of t.sha256)" in_progress "so the request is not signed without it"
q "DROP TRIGGER no_mail"
stop_daemon
start_daemon || exit 1
wait_state t.sha256 signed
ok $? "after a restart it is signed"
idt=$(dir_id "$(request_dir t.sha256)")
wait_for 20 sh -c "grep -l 'is signed (request $idt)' '$FAULTS'/new/*.eml 2>/dev/null | grep -q ."
ok $? "and its notice is delivered"

# 550: the server means it. The mail fails at once, is not tried again,
# and the refusal is audited.
server_mode refuse
ida=$(signed_drop a.sha256)
wait_for 20 sh -c "sqlite3 '$DB' \"SELECT state FROM mail_queue WHERE request_id='$ida'\" | grep -qx failed"
ok $? "a 550 answer fails the mail at once"
like "$(q "SELECT last_error FROM mail_queue WHERE request_id='$ida'")" "550 5\.1\.1 no such user here$" \
	"with the server's answer as the reason"
is "$(q "SELECT instr(last_error, char(13)) + instr(last_error, char(10)) FROM mail_queue WHERE request_id='$ida'")" 0 \
	"the stored reason holds no CR or LF"
sleep 5 # two retry periods
is "$(q "SELECT state || ' ' || attempts FROM mail_queue WHERE request_id='$ida'")" "failed 1" \
	"and it is not retried"
like "$(csodctl --config "$CONF" audit list)" "mail\.failed.*550" "the permanent failure is audited"
like "$(csodctl --config "$CONF" mail list)" "failed .*$ida" "csodctl mail list shows it failed"

# 451: tried again until the server takes it; both deliveries are the same
# message (Date and Message-ID fixed when it was queued).
server_mode defer
idb=$(signed_drop b.sha256)
wait_for 20 sh -c "[ -n \"\$(grep -l 'is signed (request $idb)' '$FAULTS'/deferred/*.eml 2>/dev/null)\" ]"
ok $? "the server took the message and answered 451"
wait_for 10 sh -c "sqlite3 '$DB' \"SELECT last_error FROM mail_queue WHERE request_id='$idb' AND state='queued'\" | grep -q 451"
ok $? "the mail stays queued with the 451 answer"
server_mode accept
wait_for 30 sh -c "[ -n \"\$(grep -l 'is signed (request $idb)' '$FAULTS'/new/*.eml 2>/dev/null)\" ]"
ok $? "it is delivered once the server accepts"
first=$(kept deferred "$idb")
second=$(kept new "$idb")
like "$(header Message-ID "$first")" "^Message-ID: <.+@.+>$" "the message has a Message-ID"
is "$(header Message-ID "$second")" "$(header Message-ID "$first")" "the retry has the same Message-ID"
is "$(header Date "$second")" "$(header Date "$first")" "and the same Date"
# The server has the message before csodd has its answer recorded.
wait_for 10 sh -c "sqlite3 '$DB' \"SELECT state FROM mail_queue WHERE request_id='$idb'\" | grep -qx sent"
ok $? "the mail is recorded as sent"

# A server that never greets: the reason says so (not a STARTTLS failure).
server_mode silent
mail_config 2s 1h
reload
idc=$(signed_drop c.sha256)
wait_for 20 sh -c "sqlite3 '$DB' \"SELECT attempts FROM mail_queue WHERE request_id='$idc' AND state='queued'\" | grep -q '^[1-9]'"
ok $? "a server that never greets: the mail stays queued"
reason=$(q "SELECT last_error FROM mail_queue WHERE request_id='$idc'")
like "$reason" "did not greet within 2 s" "the reason says the server did not greet"
check "and does not blame STARTTLS" sh -c "! printf '%s' '$reason' | grep -qi starttls"

# mail retry does not make old mail young: max_age still applies to it, and
# giving up is audited.
server_mode defer
mail_config 2s 3s
reload
sleep 3
csodctl --config "$CONF" mail retry >/dev/null
wait_for 20 sh -c "sqlite3 '$DB' \"SELECT state FROM mail_queue WHERE request_id='$ida'\" | grep -qx dead"
ok $? "a retried mail older than mail.max_age is given up after one more try"
is "$(q "SELECT attempts FROM mail_queue WHERE request_id='$ida'")" 2 "after exactly one more attempt"
like "$(csodctl --config "$CONF" audit list)" "mail\.dead.*$ida|mail\.dead.*451" "giving up is audited"

# A server that stalls after its greeting, with a long timeout: a reload and
# a stop take effect at once, the event loop goes on, and the message cut
# off stays queued.
server_mode stall
mail_config 30s 1h
reload
: >"$FAULTS/log"
stalled=()
for n in s1 s2 s3; do stalled+=("$(signed_drop $n.sha256)"); done
wait_for 20 grep -q "connect stall" "$FAULTS/log"
ok $? "the mailer is in a session with the stalled server"
sleep 1
sed -i 's|^settle_ms = .*|settle_ms = 250;|' "$CONF"
reload 2
ok $? "kill -HUP takes effect within 2 s"
stalled+=("$(signed_drop s4.sha256)")
ok $? "a drop is signed meanwhile"
kill -TERM "$DAEMON_PID"
wait_for 2 sh -c "! kill -0 $DAEMON_PID"
ok $? "kill -TERM stops csodd within 2 s"
wait "$DAEMON_PID" 2>/dev/null
is "$?" 0 "csodd exits cleanly"
DAEMON_PID=
in_list=$(printf "'%s'," "${stalled[@]}")
in_list=${in_list%,}
is "$(q "SELECT count(*) FROM mail_queue WHERE request_id IN ($in_list) AND state='queued' AND attempts=0")" 4 \
	"all four notices are still queued, none counted as tried"
server_mode accept
start_daemon || exit 1
pattern=$(IFS='|'; echo "${stalled[*]}")
wait_for 30 sh -c "[ \$(grep -l -E 'is signed \\(request ($pattern)\\)' '$FAULTS'/new/*.eml 2>/dev/null | wc -l) -ge 4 ]"
ok $? "they are delivered after a restart, once the server works"
wait_for 10 sh -c "sqlite3 '$DB' \"SELECT count(*) FROM mail_queue WHERE request_id IN ($in_list) AND state='sent'\" | grep -qx 4"
ok $? "and recorded as sent"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
