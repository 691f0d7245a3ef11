#!/bin/bash
# Mail through a real SMTP server on loopback (aiosmtpd): the approvers'
# notice, the developer's signed / declined / failed notices, resend, and
# nothing lost while the server is down.
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || skip_all "python3-aiosmtpd not installed"
MBOX=$T_DIR/mbox
mkdir -p "$MBOX/new" "$MBOX/cur" "$MBOX/tmp"
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_smtp() {
	/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$PORT" -c aiosmtpd.handlers.Mailbox "$MBOX" \
		>/dev/null 2>&1 &
	SMTP_PID=$!
	wait_for 10 /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT))"
}
stop_smtp() { kill "$SMTP_PID" 2>/dev/null; wait "$SMTP_PID" 2>/dev/null; }
trap 'stop_smtp; cleanup' EXIT
# mail_to ADDRESS SUBJECT-REGEX: a delivered message to ADDRESS whose
# subject matches; prints its file.
mail_to() {
	grep -l -i "^To: $1" "$MBOX"/new/* 2>/dev/null | while read -r f; do
		grep -q -E "^Subject: .*$2" "$f" && echo "$f"
	done | head -1
}
got_mail() { [ -n "$(mail_to "$1" "$2")" ]; }
# count_mail DIR SUBJECT-REGEX: how many messages in DIR/new have that subject.
count_mail() { grep -l -E "^Subject: .*$2" "$1"/new/* 2>/dev/null | wc -l; }

start_smtp
AUTO_APPROVE=false
EXTRA=''
write_config
sed -i "s|^mail = .*|mail = { transport = \"smtp\"; host = \"127.0.0.1\"; port = $PORT; starttls = \"never\"; from = \"csod@dithercons.com\"; retry = \"1s\"; };|" "$CONF"
start_daemon || exit 1

wait_for 20 got_mail root@dithercons.com "certificate [0-9]+ issued"
ok $? "admins are told when a certificate is issued"
make_hash_drop a.sha256
drop_by_rename a.sha256
wait_state a.sha256 created
id=$(dir_id "$(request_dir a.sha256)")
wait_for 20 got_mail root@dithercons.com "asks to sign .*\\(request $id\\)"
ok $? "the approver gets a mail when a request waits"
m=$(mail_to root@dithercons.com "asks to sign .*\\(request $id\\)")
check "it names the marker file to create" grep -q "approvals/$id.approve" "$m"
check "and the file's SHA-256" grep -q "$(sha256sum "$T_DIR/a.sha256" | cut -d' ' -f1)" "$m"
check "with a Date and a Message-ID" sh -c "grep -q '^Date: ' '$m' && grep -q '^Message-ID: <' '$m'"

csodctl --config "$CONF" request approve "$id" -m "go" >/dev/null
wait_state a.sha256 signed
wait_for 20 got_mail dagwood@dithercons.com "is signed \\(request $id\\)"
ok $? "the developer gets the signed notice"
m=$(mail_to dagwood@dithercons.com "is signed \\(request $id\\)")
check "it gives the signed file's path" grep -qF "$(request_dir a.sha256)/a.sha256.p7s" "$m"
check "and the verify command" grep -q "openssl cms -verify" "$m"

make_hash_drop b.sha256
drop_by_rename b.sha256
wait_state b.sha256 created
idb=$(dir_id "$(request_dir b.sha256)")
csodctl --config "$CONF" request decline "$idb" -m "not this one" >/dev/null
wait_for 20 got_mail dagwood@dithercons.com "was declined \\(request $idb\\)"
ok $? "a decline is mailed"
check "with the approver's message" grep -q "not this one" "$(mail_to dagwood@dithercons.com "was declined \\(request $idb\\)")"

echo "zzzz" >"$SPOOL/inbox/$DEV/broken.sha256"
wait_state broken.sha256 failed
idc=$(dir_id "$(request_dir broken.sha256)")
wait_for 20 got_mail dagwood@dithercons.com "failed \\(request $idc\\)"
ok $? "a failure is mailed"
check "with the reason" grep -q "broken.sha256: not a file the hash service can sign" \
	"$(mail_to dagwood@dithercons.com "failed \\(request $idc\\)")"

# The server goes away: mail waits in the queue, nothing is lost.
stop_smtp
csodctl --config "$CONF" auto-approve on >/dev/null
make_hash_drop d.sha256
drop_by_rename d.sha256
wait_state d.sha256 signed
idd=$(dir_id "$(request_dir d.sha256)")
wait_for 20 sh -c "db_sql \"SELECT attempts FROM mail_queue WHERE request_id='$idd' AND state='queued' AND attempts > 0\" | grep -q ."
ok $? "with the server down, the signed notice stays queued and is retried"
check "the reason is recorded" sh -c "db_sql \"SELECT last_error FROM mail_queue WHERE request_id='$idd'\" | grep -q smtp"
start_smtp
wait_for 30 got_mail dagwood@dithercons.com "is signed \\(request $idd\\)"
ok $? "once the server is back the queued mail arrives"

# A certificate about to expire: the admins hear of it once.
db_sql "UPDATE certificates SET expires = $(($(date +%s) + 5 * 86400)) WHERE developer = '$DEV'"
wait_for 90 got_mail root@dithercons.com "certificate [0-9]+ expires on"
ok $? "admins are warned of a certificate that expires within 30 days"

n=$(count_mail "$MBOX" "is signed \\(request $id\\)")
csodctl --config "$CONF" request resend "$id" >/dev/null
wait_for 20 sh -c "[ \$(grep -l -E '^Subject: .*is signed \\(request $id\\)' '$MBOX'/new/* | wc -l) -gt $n ]"
ok $? "request resend sends the signed notice again"

# STARTTLS: a server with a certificate from a test CA, required by csod.
PKI=$T_DIR/pki
make_pki "$PKI"
openssl req -new -newkey rsa:2048 -nodes -keyout "$T_DIR/smtp.key" -subj "/CN=localhost" \
	-out "$T_DIR/smtp.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$T_DIR/smtp.ext"
openssl x509 -req -in "$T_DIR/smtp.csr" -CA "$PKI/root.pem" -CAkey "$PKI/root.key" \
	-CAcreateserial -days 2 -extfile "$T_DIR/smtp.ext" -out "$T_DIR/smtp.pem" 2>/dev/null
TLSBOX=$T_DIR/tlsbox
mkdir -p "$TLSBOX/new" "$TLSBOX/cur" "$TLSBOX/tmp"
TLSPORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$TLSPORT" --tlscert "$T_DIR/smtp.pem" \
	--tlskey "$T_DIR/smtp.key" -c aiosmtpd.handlers.Mailbox "$TLSBOX" >/dev/null 2>&1 &
TLS_PID=$!
trap 'kill $TLS_PID 2>/dev/null; stop_smtp; cleanup' EXIT
wait_for 10 /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$TLSPORT))"
sed -i "s|^mail = .*|mail = { transport = \"smtp\"; host = \"localhost\"; port = $TLSPORT; starttls = \"required\"; ca_file = \"$PKI/root.pem\"; from = \"csod@dithercons.com\"; retry = \"1s\"; timeout = \"5s\"; };|" "$CONF"
kill -HUP "$DAEMON_PID"
wait_for 10 grep -q "configuration reloaded" "$LOG"
make_hash_drop t.sha256
drop_by_rename t.sha256
wait_state t.sha256 signed
idt=$(dir_id "$(request_dir t.sha256)")
wait_for 40 sh -c "grep -l 'is signed (request $idt)' '$TLSBOX'/new/* 2>/dev/null | grep -q ."
ok $? "mail goes out over STARTTLS, the server's certificate checked against mail.ca_file"
# A TLS 1.3 server's session tickets come unasked after the handshake;
# libesmtp, finding them, waited for EHLO's answer with EHLO unsent, until
# the timeout (now and then: a race). Each of these goes out at once.
for i in $(seq 1 30); do csodctl --config "$CONF" request resend "$idt" >/dev/null; done
wait_for 60 sh -c "[ \$(grep -l 'is signed (request $idt)' '$TLSBOX'/new/* 2>/dev/null | wc -l) -ge 31 ] &&
	db_sql \"SELECT count(*) FROM mail_queue WHERE request_id='$idt' AND state != 'sent'\" | grep -qx 0"
ok $? "30 more messages over STARTTLS are delivered"
is "$(db_sql "SELECT count(*) FROM mail_queue WHERE request_id='$idt' AND attempts != 1")" 0 \
	"each at its first attempt"

# A server certificate that mail.ca_file does not vouch for (the daemon's
# own CA did not issue it): nothing is sent, the mail waits.
sed -i "s|ca_file = \"$PKI/root.pem\"|ca_file = \"$SPOOL/ca/ca.pem\"|" "$CONF"
reloads=$(grep -c "configuration reloaded" "$LOG")
kill -HUP "$DAEMON_PID"
wait_for 10 sh -c "[ \$(grep -c 'configuration reloaded' '$LOG') -gt $reloads ]"
make_hash_drop v.sha256
drop_by_rename v.sha256
wait_state v.sha256 signed
idv=$(dir_id "$(request_dir v.sha256)")
wait_for 20 sh -c "db_sql \"SELECT last_error FROM mail_queue WHERE request_id='$idv' AND state='queued'\" | grep -q ."
ok $? "a server certificate not from mail.ca_file: the mail stays queued"
like "$(db_sql "SELECT last_error FROM mail_queue WHERE request_id='$idv'")" "session ended early \\(STARTTLS" \
	"with the reason recorded"
is "$(count_mail "$TLSBOX" "is signed \\(request $idv\\)")" 0 "and the server got nothing"
sed -i "s|ca_file = \"$SPOOL/ca/ca.pem\"|ca_file = \"$PKI/root.pem\"|" "$CONF"

# TLS required, but the server does not offer it: queued, with the reason.
sed -i "s|port = $TLSPORT|port = $PORT|" "$CONF"
kill -HUP "$DAEMON_PID"
sleep 1
make_hash_drop n.sha256
drop_by_rename n.sha256
wait_state n.sha256 signed
idn=$(dir_id "$(request_dir n.sha256)")
wait_for 20 sh -c "db_sql \"SELECT last_error FROM mail_queue WHERE request_id='$idn' AND state='queued'\" | grep -q ."
ok $? "when TLS is required but not offered, the mail stays queued"
like "$(db_sql "SELECT last_error FROM mail_queue WHERE request_id='$idn'")" "smtp" \
	"with the reason recorded"
check "no message went out in the clear" sh -c "! grep -l 'is signed (request $idn)' '$MBOX'/new/* 2>/dev/null | grep -q ."
like "$(csodctl --config "$CONF" mail list)" "queued .*$idn" "csodctl mail list shows it waiting"

# SMTP AUTH with the password read from a file.
AUTHBOX=$T_DIR/authbox
mkdir -p "$AUTHBOX/new" "$AUTHBOX/cur" "$AUTHBOX/tmp"
AUTHPORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 "$CSOD_TOP/tests/fixtures/smtp_server.py" "$AUTHPORT" "$AUTHBOX" --auth csod:s3cret \
	--reject dagwood@dithercons.com >/dev/null 2>&1 &
AUTH_PID=$!
trap 'kill $AUTH_PID $TLS_PID 2>/dev/null; stop_smtp; cleanup' EXIT
wait_for 10 /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$AUTHPORT))"
printf 's3cret\n' >"$T_DIR/smtp.password"
chmod 600 "$T_DIR/smtp.password"
sed -i "s|^mail = .*|mail = { transport = \"smtp\"; host = \"127.0.0.1\"; port = $AUTHPORT; starttls = \"never\"; user = \"csod\"; password_file = \"$T_DIR/smtp.password\"; from = \"csod@dithercons.com\"; retry = \"1s\"; };|" "$CONF"
kill -HUP "$DAEMON_PID"
sleep 1
csodctl --config "$CONF" developer add blondie@dithercons.com --name Blondie --user blondie \
	--organization "$ORG" --welcome >/dev/null
wait_for 20 sh -c "grep -l 'your code-signing inbox' '$AUTHBOX'/new/* 2>/dev/null | grep -q ."
ok $? "mail goes out through a server that requires AUTH (the new developer's welcome)"
check "the welcome names the inbox" sh -c "grep -l 'inbox/blondie' '$AUTHBOX'/new/* | grep -q ."
# The server refuses dagwood: his notice waits, with the server's answer.
make_hash_drop p.sha256
drop_by_rename p.sha256
wait_state p.sha256 signed
idp=$(dir_id "$(request_dir p.sha256)")
wait_for 20 sh -c "db_sql \"SELECT last_error FROM mail_queue WHERE request_id='$idp' AND state='failed'\" | grep -q 550"
ok $? "a recipient the server rejects (550): the mail fails with the server's answer"
like "$(csodctl --config "$CONF" mail list)" "failed .*$idp" "csodctl mail list shows it failed"
# A slow server: the configured timeout ends the attempt; the mail waits.
SLOWBOX=$T_DIR/slowbox
mkdir -p "$SLOWBOX/new" "$SLOWBOX/cur" "$SLOWBOX/tmp"
SLOWPORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 "$CSOD_TOP/tests/fixtures/smtp_server.py" "$SLOWPORT" "$SLOWBOX" --delay 30 >/dev/null 2>&1 &
SLOW_PID=$!
trap 'kill $SLOW_PID $AUTH_PID $TLS_PID 2>/dev/null; stop_smtp; cleanup' EXIT
wait_for 10 /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$SLOWPORT))"
sed -i "s|^mail = .*|mail = { transport = \"smtp\"; host = \"127.0.0.1\"; port = $SLOWPORT; starttls = \"never\"; timeout = \"2s\"; from = \"csod@dithercons.com\"; retry = \"30s\"; };|" "$CONF"
kill -HUP "$DAEMON_PID"
sleep 1
make_hash_drop s.sha256
drop_by_rename s.sha256
wait_state s.sha256 signed
ids=$(dir_id "$(request_dir s.sha256)")
wait_for 20 sh -c "db_sql \"SELECT attempts FROM mail_queue WHERE request_id='$ids' AND state='queued'\" | grep -q '^[1-9]'"
ok $? "a server slower than mail.timeout: the attempt ends, the mail stays queued"
like "$(db_sql "SELECT last_error FROM mail_queue WHERE request_id='$ids'")" \
	"no answer to the message within 2 s" "with the reason: where the server went quiet"
make_hash_drop s2.sha256
drop_by_rename s2.sha256
wait_state s2.sha256 signed
ok $? "and signing never waited on it"
# Too old: given up, shown as dead; mail retry gives it one more attempt,
# not another mail.max_age.
sed -i 's|retry = \"30s\"; };|retry = \"30s\"; max_age = \"2s\"; };|' "$CONF"
kill -HUP "$DAEMON_PID"
sleep 2
like "$(csodctl --config "$CONF" mail retry)" "[1-9][0-9]* message\(s\) queued again" "csodctl mail retry queues waiting and failed mail again"
wait_for 30 sh -c "db_sql \"SELECT state FROM mail_queue WHERE request_id='$ids'\" | grep -qx dead"
ok $? "undeliverable mail is marked dead after mail.max_age"
like "$(csodctl --config "$CONF" mail list)" "dead .*$ids" "csodctl mail list shows it dead"
check "the password is not in the log" sh -c "! grep -q s3cret '$LOG'"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
