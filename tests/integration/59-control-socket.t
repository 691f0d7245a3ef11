#!/bin/bash
# csodctl for everyone, through csodd's control socket: real Unix users as
# MRAO, RAO (one organization of two), DRAO (one department), developers and
# a plain user, with csod.conf and state/ unreadable to them as installed
# (0640 root, 0700). Each sees exactly their scope; the audit log names the
# caller the kernel vouched for (SO_PEERCRED); `csodctl --serve` run by hand
# grants nothing; no one but root works on the database directly, and root
# does when csodd is stopped (offline mode).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
S=$$
add_users mrao rao drao dev1 dev2 dev3 plain
A="Dithers Construction Company"
B="Blondie Catering"
SOCK=$SPOOL/run/csod.sock
DB=$SPOOL/state/csod.db
cat >"$CONF" <<CONF
spool = "$SPOOL";
settle_ms = 300;
poll_interval = 1;
auto_approve = false;
mail = { transport = "spool"; };
ca = { backend = "local"; auto_enroll = true; key_bits = 2048; };
organizations = (
  { name = "$A"; departments = [ "Software Development", "QA" ]; },
  { name = "$B"; departments = [ "Kitchen" ]; }
);
developers = (
  { user = "$DEV"; email = "d0@x"; organization = "$A"; department = "Software Development"; },
  { user = "csr-dev1$S"; email = "d1@x"; organization = "$A"; department = "Software Development"; },
  { user = "csr-dev2$S"; email = "d2@x"; organization = "$B"; department = "Kitchen"; },
  { user = "csr-dev3$S"; email = "d3@x"; organization = "$A"; department = "QA"; }
);
admins = (
  { user = "csr-mrao$S"; email = "m@x"; role = "MRAO"; },
  { user = "csr-rao$S"; email = "r@x"; role = "RAO"; organizations = [ "$A" ]; },
  { user = "csr-drao$S"; email = "q@x"; role = "DRAO"; departments = [ "$A/QA" ]; }
);
CONF
chmod 640 "$CONF" # as installed: root's
start_daemon || exit 1
wait_for 10 test -S "$SOCK"
ok $? "csodd listens on its control socket"
is "$(stat -c %a "$SOCK")" 666 "the socket is mode 0666 (the caller's uid is the gate)"
is "$(stat -c %a "$SPOOL/state")" 700 "state/ stays 0700"
as() { local u=$1; shift; runuser -u "csr-$u$S" -- "$@"; }
uctl() { local u=$1; shift; as "$u" csodctl --socket "$SOCK" "$@"; }
check "the config is unreadable to the users" sh -c "! runuser -u csr-rao$S -- cat '$CONF' 2>/dev/null"

drop_for() { # drop_for DEVUSER NAME -> prints the request id once created
	make_hash_drop "$2"
	drop_by_rename "$2" "$1"
	wait_state "$2" created 30 "$1" && dir_id "$(request_dir "$2" "$1")"
}
id1=$(drop_for "csr-dev1$S" r1.sha256)
id2=$(drop_for "csr-dev2$S" r2.sha256)
id3=$(drop_for "csr-dev3$S" r3.sha256)
ids_of() { printf '%s\n' "$1" | sed 1d | awk '{print $1}' | sort | tr '\n' ' '; }
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' '; }

# --- request list and show: each their own scope ------------------------------
out=$(uctl mrao request list 2>&1)
ok $? "an MRAO lists requests as themselves"
is "$(ids_of "$out")" "$(sorted "$id1" "$id2" "$id3")" "and sees all three"
out=$(uctl rao request list 2>&1)
ok $? "an RAO lists requests"
is "$(ids_of "$out")" "$(sorted "$id1" "$id3")" "and sees those of $A only"
out=$(uctl drao request list 2>&1)
is "$(ids_of "$out")" "$(sorted "$id3")" "a DRAO sees those of $A/QA only"
out=$(uctl dev1 request list 2>&1)
ok $? "a developer lists requests"
is "$(ids_of "$out")" "$(sorted "$id1")" "and sees their own only"
n=$(uctl rao --json request list | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
is "$n" 2 "the JSON listing is scoped the same way"

out=$(uctl rao request show "$id2" 2>&1)
is "$?" 1 "an RAO may not show a request of another organization"
like "$out" "no request $id2" "it is not there for them"
like "$(uctl rao request show "$id1" 2>&1)" "Organization: $A" "but shows one of their own organization"
out=$(uctl drao request show "$id1" 2>&1)
is "$?" 1 "a DRAO may not show a request of another department"
out=$(uctl dev1 request show "$id3" 2>&1)
is "$?" 1 "a developer may not show another developer's request"
like "$(uctl dev1 request show "$id1" 2>&1)" "Request: +$id1" "but shows their own"

out=$(uctl plain request list 2>&1)
is "$?" 1 "a plain user is refused"
like "$out" "csr-plain$S is not an administrator or developer of csod" "with a clear reason"
out=$(uctl plain cert list 2>&1)
like "$out" "csr-plain$S is not an administrator" "and may not list certificates"

# --- certificates --------------------------------------------------------------
wait_for 30 sh -c "[ \$(sqlite3 '$DB' \"SELECT COUNT(*) FROM certificates WHERE is_ca=0 AND state='issued'\") -ge 4 ]"
emails() { printf '%s\n' "$1" | grep -o 'd[0-9]@x' | sort -u | tr '\n' ' '; }
is "$(emails "$(uctl mrao cert list)")" "d0@x d1@x d2@x d3@x " "an MRAO lists every certificate"
is "$(emails "$(uctl rao cert list)")" "d0@x d1@x d3@x " "an RAO lists those of $A"
is "$(emails "$(uctl drao cert list)")" "d3@x " "a DRAO those of $A/QA"
c2=$(sqlite3 "$DB" "SELECT id FROM certificates WHERE email='d2@x' LIMIT 1")
out=$(uctl rao cert show "$c2" 2>&1)
is "$?" 1 "an RAO may not show a certificate of another organization"
out=$(uctl rao cert download "$c2" 2>&1)
is "$?" 1 "nor download it"
out=$(uctl dev1 cert list 2>&1)
like "$out" "is not an administrator" "a developer may not list certificates"

# --- approvals: scope, the actor, a developer's ------------------------------
out=$(uctl dev1 request approve "$id1" 2>&1)
is "$?" 1 "a developer may not approve, not even their own request"
like "$out" "csr-dev1$S is not an administrator" "and is told so"
out=$(uctl dev3 request approve "$id1" 2>&1)
is "$?" 1 "a developer may not approve another's request"
out=$(uctl rao request approve "$id2" -m nope 2>&1)
is "$?" 1 "an RAO may not approve a request of another organization"
like "$out" "may not approve request $id2: it is not in their scope" "and is told so"
check "no marker was written for it" test ! -e "$SPOOL/approvals/$id2.approve"
is "$(sqlite3 "$DB" "SELECT state FROM requests WHERE id='$id2'")" created "it still waits"
check "the refusal is audited under the RAO's name" sh -c "sqlite3 '$DB' \"SELECT actor FROM audit WHERE action='csodctl.refused' AND object='$id2'\" | grep -qx 'csr-rao$S'"

out=$(uctl rao request approve "$id1" -m "ship it" 2>&1)
ok $? "an RAO approves a request of their organization through csodd"
like "$out" "taken by csodd" "and csodd takes it"
wait_state r1.sha256 signed 30 "csr-dev1$S"
ok $? "the request is signed"
is "$(sqlite3 "$DB" "SELECT actor FROM audit WHERE action='request.approve' AND object='$id1'")" "csr-rao$S" \
	"the audit log names the RAO as the actor, not root"
is "$(json_field "$(request_dir r1.sha256 "csr-dev1$S")/request.json" approver)" "csr-rao$S" "and so does request.json"
check "the marker was the RAO's" sh -c "stat -c %U '$SPOOL'/approvals/done/$id1.approve | grep -qx 'csr-rao$S'"

# --- downloads are written by the client, as the caller ------------------------
mkdir -m 700 "$T_DIR/dl1" && chown "csr-dev1$S" "$T_DIR/dl1"
uctl dev1 request download "$id1" r1.sha256.p7s -o "$T_DIR/dl1/r1.p7s"
ok $? "a developer downloads their signed file through csodd"
check "the bytes are the signed file's" cmp "$T_DIR/dl1/r1.p7s" "$(request_dir r1.sha256 "csr-dev1$S")/r1.sha256.p7s"
is "$(stat -c %U "$T_DIR/dl1/r1.p7s")" "csr-dev1$S" "written as the developer"
out=$(uctl dev1 request download "$id1" r1.sha256.p7s -o "$T_DIR/r1-elsewhere.p7s" 2>&1)
is "$?" 1 "a download goes where the caller may write, not where csodd may"
check "and nothing is written there" test ! -e "$T_DIR/r1-elsewhere.p7s"
out=$(uctl dev2 request download "$id1" r1.sha256.p7s -o /dev/null 2>&1)
is "$?" 1 "another developer may not download it"
like "$out" "no request $id1" "it is not there for them"

# --- csodctl --serve by hand grants nothing ------------------------------------
out=$(as plain csodctl --serve --caller-uid 0 --config "$CONF" </dev/null 2>&1)
is "$?" 1 "csodctl --serve --caller-uid 0 run by a plain user is refused"
like "$out" "--serve is csodd's own: standard input is not a Unix stream socket" "saying why"
serve_on() { # serve_on BIND-PATH|"": --serve with a connection to csodd as standard input
	as plain /usr/bin/python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if sys.argv[3]:
    s.bind(sys.argv[3])
s.connect(sys.argv[1])
os.dup2(s.fileno(), 0)
os.execvp("csodctl", ["csodctl", "--serve", "--caller-uid", "0", "--config", sys.argv[2]])' "$SOCK" "$CONF" "$1"
}
out=$(serve_on "" 2>&1)
is "$?" 1 "its own end of a connection to csodd (whose peer is root) grants nothing"
like "$out" "not a connection accepted on a named socket" "it is no accepted connection"
mkdir -m 777 "$T_DIR/plain"
out=$(serve_on "$T_DIR/plain/own.sock" 2>&1)
is "$?" 1 "nor does that end bound to a name of the user's"
like "$out" "the other end of standard input has a name" "saying so"
# A socket of the user's own that root connects to (csodctl --socket
# pointed at it): the peer is root, but the csodctl answering runs as the
# user, who is not csodd's user; even with a readable config it refuses.
chmod 644 "$CONF"
as plain /usr/bin/python3 -c '
import os, socket, sys
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
l.bind(sys.argv[1])
l.listen(1)
l.settimeout(20)
conn, _ = l.accept()
os.dup2(conn.fileno(), 0)
os.execvp("csodctl", ["csodctl", "--serve", "--caller-uid", "0", "--config", sys.argv[2]])' "$T_DIR/plain/lure.sock" "$CONF" &
lure=$!
wait_for 10 test -S "$T_DIR/plain/lure.sock"
out=$(csodctl --socket "$T_DIR/plain/lure.sock" request list 2>&1)
is "$?" 1 "a user's own --serve answering root's connection grants nothing"
like "$out" "--serve runs as csodd's user, the owner of $SPOOL/store" "saying so"
wait "$lure"
chmod 640 "$CONF"
out=$(as plain csodctl --offline --config "$CONF" request list 2>&1)
is "$?" 1 "a plain user may not work offline"
like "$out" "--offline is for root only" "saying so"
out=$(as plain csodctl --caller-uid 0 request list 2>&1)
is "$?" 2 "--caller-uid is no option of the client"

# --- bounds: connections per user, and their time --------------------------------
# Four connections of one user that send nothing hold that user's slots.
as plain /usr/bin/python3 -c '
import socket, sys, time
held = []
for i in range(4):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    held.append(s)
time.sleep(1.0)
open(sys.argv[2], "w").close()
for s in held:  # csodd answers each idle one with an error after a while
    s.settimeout(30)
    data = b""
    while True:
        part = s.recv(4096)
        if not part:
            break
        data += part
    sys.stdout.write(repr(data) + "\n")' "$SOCK" "$T_DIR/plain/held" >"$T_DIR/idle.out" 2>&1 &
idle=$!
wait_for 10 test -e "$T_DIR/plain/held"
plain_uid=$(id -u "csr-plain$S")
wait_for 20 sh -c "[ \$(pgrep -fc -- '--serve --caller-uid $plain_uid ') -ge 4 ]"
ok $? "csodd answers each connection with a csodctl of its own"
out=$(uctl plain request list 2>&1)
like "$out" "csodd is busy" "a fifth connection of the same user is turned away"
out=$(uctl mrao request list 2>&1)
ok $? "while an admin still gets through"
wait "$idle"
like "$(cat "$T_DIR/idle.out")" "the request: .*(timed out|temporarily unavailable)" "a connection that sends nothing is ended with a reason"

# --- no direct access but root's; offline mode for root ---------------------------
stop_daemon
ok $? "csodd stops cleanly"
check "and removes its socket" test ! -e "$SOCK"
out=$(uctl rao request list 2>&1)
is "$?" 1 "with csodd stopped an RAO is told it cannot be reached"
like "$out" "cannot reach csodd on $SOCK" "naming the socket"
# Even where the users may read the file and the database, csodctl does not
# act on their claim to be someone: only root works without csodd.
chmod 644 "$CONF"
chmod 755 "$SPOOL/state"
chmod 644 "$DB"
out=$(as rao csodctl --config "$CONF" request list 2>&1)
is "$?" 1 "a readable database does not give an RAO direct access"
like "$out" "only root can work without it" "saying so"
chmod 700 "$SPOOL/state"
chmod 640 "$CONF"
out=$(csodctl --config "$CONF" request list 2>&1)
ok $? "root lists requests offline, with csodd stopped"
is "$(ids_of "$out")" "$(sorted "$id1" "$id2" "$id3")" "and sees them all"
out=$(csodctl --offline --config "$CONF" request show "$id2" 2>&1)
like "$out" "Request: +$id2" "--offline works for root"
out=$(csodctl --config "$CONF" keys rotate-master 2>&1)
ok $? "keys rotate-master runs offline ($out)"
# A crash leaves the socket behind: root's csodctl goes offline (nobody
# answers), and the next csodd replaces it.
start_daemon || exit 1
wait_for 10 test -S "$SOCK"
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
check "a crash leaves the socket" test -S "$SOCK"
out=$(csodctl --config "$CONF" request list 2>&1)
ok $? "root's csodctl works offline when nobody answers on the socket"
out=$(uctl rao request list 2>&1)
like "$out" "cannot reach csodd on $SOCK: Connection refused" "an RAO is told csodd does not answer"
start_daemon || exit 1
# start_daemon sees the old spool at once: wait for the new socket.
wait_for 30 sh -c "runuser -u csr-rao$S -- csodctl --socket '$SOCK' request list >/dev/null 2>&1"
out=$(uctl rao request list 2>&1)
is "$(ids_of "$out")" "$(sorted "$id1" "$id3")" "the next csodd replaces the old socket and answers"
# A second csodd (another spool) told to use the same socket does not take it.
sed "s|^spool = .*|spool = \"$T_DIR/spool2\";|" "$CONF" >"$T_DIR/second.conf"
printf 'control_socket = "%s";\n' "$SOCK" >>"$T_DIR/second.conf"
out=$(timeout 60 csodd --config "$T_DIR/second.conf" --foreground 2>&1)
is "$?" 1 "a second csodd does not take a socket where csodd answers"
like "$out" "control socket $SOCK: another process answers there" "saying so"
check "and the first still answers" uctl mrao request list
stop_daemon

# A spool so deep that its default socket would not fit in a socket's name:
# csodd says so and runs without one; root's csodctl works offline.
LONG=$T_DIR/$(printf 'd%.0s' $(seq 1 110))
csodd --config "$CONF" --spool "$LONG" --foreground 2>"$T_DIR/long.log" &
long_pid=$!
wait_for 60 grep -q "no control socket: .* is longer than 107 bytes; set control_socket" "$T_DIR/long.log"
ok $? "with a spool too deep for the default socket csodd says so"
check "and keeps running" kill -0 "$long_pid"
wait_for 60 grep -q "csodd started" "$T_DIR/long.log" # the database migrated
out=$(csodctl --config "$CONF" --spool "$LONG" developer list 2>&1)
like "$out" "csr-dev1$S" "root's csodctl works offline beside it"
kill "$long_pid"
wait "$long_pid"
ok $? "and it stops cleanly"
cat "$T_DIR/long.log" >>"$LOG"
if grep -q "Sanitizer" "$LOG"; then
	fail "no sanitizer report from csodd's csodctls"
	grep -A20 Sanitizer "$LOG" | head -40 | sed 's/^/#   /'
else
	pass "no sanitizer report from csodd's csodctls"
fi
done_testing
