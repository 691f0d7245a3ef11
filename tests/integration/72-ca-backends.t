#!/bin/bash
# CA backends `directory` and `command`: CSRs out, certificates in, checked
# against the order's key and for the codeSigning EKU; garbage, a
# certificate for another key, a missing EKU, an expired certificate, a
# failing and a hanging command each fail the order with the reason; a short-term certificate
# expires and then a request fails saying so. ca.command runs off the event
# loop: a slow one holds up no signing, and a stop kills it at once.
. "$(dirname "$0")/lib.sh"
PKI=$T_DIR/pki
make_pki "$PKI"
CA=$T_DIR/ca
mkdir -p "$CA/db"
: >"$CA/db/index.txt"
echo 01 >"$CA/db/serial"
cat >"$CA/ca.cnf" <<CNF
[ca]
default_ca = c
[c]
database = $CA/db/index.txt
serial = $CA/db/serial
new_certs_dir = $CA/db
certificate = $PKI/inter.pem
private_key = $PKI/inter.key
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
[noeku]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
CNF
# sign_csr CSR OUT [EXTENSIONS [ENDDATE]]: the test CA issues; OUT gets the
# certificate and the chain.
sign_csr() {
	local end=()
	[ -n "${4:-}" ] && end=(-enddate "$4")
	openssl ca -batch -config "$CA/ca.cnf" -in "$1" -out "$2.tmp" -extensions "${3:-leaf}" \
		-days 30 "${end[@]}" -notext >/dev/null 2>&1 || return 1
	cat "$2.tmp" "$PKI/chain.pem" >"$2" && rm -f "$2.tmp"
}
order_of() { sqlite3 "$SPOOL/state/csod.db" "SELECT order_no FROM certificates WHERE developer='$1' ORDER BY id DESC LIMIT 1"; }
cert_state() { sqlite3 "$SPOOL/state/csod.db" "SELECT state FROM certificates WHERE developer='$1' ORDER BY id DESC LIMIT 1"; }
cert_error() { sqlite3 "$SPOOL/state/csod.db" "SELECT error FROM certificates WHERE developer='$1' ORDER BY id DESC LIMIT 1"; }
state_is() { [ "$(cert_state "$1")" = "$2" ]; }
start_plain() { # no local CA, so no ca/ca.pem to wait for
	csodd --config "$CONF" --foreground >/dev/null 2>>"$LOG" &
	DAEMON_PID=$!
	wait_for 30 test -d "$SPOOL/inbox/$DEV"
}
dev() { printf ', { user = "%s"; email = "%s@dithercons.com"; organization = "%s"; }' "$1" "$1" "$ORG"; }
DEVELOPERS_EXTRA="$(dev blondie)$(dev cookie)$(dev alex)$(dev elmo)$(dev mallory)$(dev nochain)"

# --- directory --------------------------------------------------------------
write_config
sed -i 's|ca = { backend = "local"; auto_enroll = true; key_bits = 2048; };|ca = { backend = "directory"; auto_enroll = true; key_bits = 2048; };|' "$CONF"
start_plain || exit 1
wait_for 20 test -f "$SPOOL/ca/pending/$(order_of $DEV).csr"
ok $? "an order's CSR is written to ca/pending/<order>.csr"
o=$(order_of $DEV)
like "$o" "^D[0-9]+$" "with a directory order number"
is "$(cert_state $DEV)" requested "the certificate is requested"
csr=$SPOOL/ca/pending/$o.csr
check "the CSR verifies" openssl req -in "$csr" -noout -verify
like "$(openssl req -in "$csr" -noout -text)" "Code Signing" "and asks for codeSigning"
like "$(openssl req -in "$csr" -noout -subject)" "emailAddress ?= ?dagwood@dithercons.com" "for the developer's email"

sign_csr "$csr" "$T_DIR/d.pem"
cp "$T_DIR/d.pem" "$SPOOL/ca/issued/.$o.tmp" && mv "$SPOOL/ca/issued/.$o.tmp" "$SPOOL/ca/issued/$o.pem"
wait_for 20 state_is $DEV issued
ok $? "the certificate dropped in ca/issued/ is collected"
test -f "$SPOOL/ca/issued/$o.pem.collected" -a ! -e "$csr"
ok $? "the answer is marked .collected and the CSR removed"
ctl() { csodctl --config "$CONF" "$@"; }
cid=$(sqlite3 "$SPOOL/state/csod.db" "SELECT id FROM certificates WHERE developer='$DEV'")
show=$(ctl cert show "$cid")
like "$show" "Serial +[0-9A-F]+" "cert show gives the serial"
like "$show" "Collected +20" "and the collection time"
make_hash_drop a.sha256
drop_by_rename a.sha256
wait_state a.sha256 signed
ok $? "a request is signed with the directory CA's certificate"
check "openssl cms verifies it up to the external root" openssl cms -verify -binary -inform DER \
	-in "$(request_dir a.sha256)/a.sha256.p7s" -content "$T_DIR/a.sha256.data" -CAfile "$PKI/root.pem" -purpose any -out /dev/null
like "$(openssl crl2pkcs7 -nocrl -certfile "$(request_dir a.sha256)/chain.pem" | openssl pkcs7 -print_certs -noout)" \
	"subject=CN = csod test intermediate" "chain.pem holds the external chain"

# A short-term certificate: signs now, fails once expired, saying so.
o=$(order_of blondie)
sign_csr "$SPOOL/ca/pending/$o.csr" "$SPOOL/ca/issued/$o.pem" leaf "$(date -u -d '+12 sec' +%y%m%d%H%M%SZ)"
wait_for 20 state_is blondie issued
ok $? "a short-term certificate is collected"
make_hash_drop s1.sha256
drop_by_rename s1.sha256 blondie
wait_state s1.sha256 signed 30 blondie
ok $? "and signs while valid"
sleep 13
make_hash_drop s2.sha256
drop_by_rename s2.sha256 blondie
wait_state s2.sha256 failed 30 blondie
ok $? "once expired, a request fails"
like "$(cat "$(request_dir s2.sha256 blondie)/ERROR")" "is expired since" "saying the certificate expired"

# Garbage, another key, no codeSigning EKU.
o=$(order_of cookie)
echo "this is not a certificate" >"$SPOOL/ca/issued/$o.crt"
wait_for 20 state_is cookie failed
ok $? "garbage from the CA fails the order"
like "$(cert_error cookie)" "holds no certificate" "saying why"
test -f "$SPOOL/ca/issued/$o.crt.rejected"
ok $? "and the answer is marked .rejected"
o=$(order_of alex)
cat "$PKI/rsa.pem" "$PKI/chain.pem" >"$SPOOL/ca/issued/$o.pem"
wait_for 20 state_is alex failed
ok $? "a certificate for another key fails the order"
like "$(cert_error alex)" "for another key" "saying why"
o=$(order_of elmo)
sign_csr "$SPOOL/ca/pending/$o.csr" "$T_DIR/e.pem" noeku
openssl crl2pkcs7 -nocrl -certfile "$T_DIR/e.pem" -outform DER -out "$SPOOL/ca/issued/$o.p7b"
wait_for 20 state_is elmo failed
ok $? "a certificate without codeSigning (as PKCS#7) fails the order"
like "$(cert_error elmo)" "lacks the codeSigning" "saying why"
make_hash_drop x.sha256
drop_by_rename x.sha256 elmo
wait_state x.sha256 failed 30 elmo
ok $? "a request of a developer whose order failed fails"
like "$(cat "$(request_dir x.sha256 elmo)/ERROR")" "is failed: .*codeSigning" "with the order's reason"
# PKCS#7 that is fine (PEM) is accepted.
o=$(order_of mallory)
sign_csr "$SPOOL/ca/pending/$o.csr" "$T_DIR/m.pem"
openssl crl2pkcs7 -nocrl -certfile "$T_DIR/m.pem" -out "$SPOOL/ca/issued/$o.p7b"
wait_for 20 state_is mallory issued
ok $? "a PKCS#7 bundle is collected"
# The certificate alone, without the chain up to a root: csodd cannot verify
# what it signs with it, so its self-check fails the request and nothing is
# published.
o=$(order_of nochain)
sign_csr "$SPOOL/ca/pending/$o.csr" "$T_DIR/nc.pem"
openssl x509 -in "$T_DIR/nc.pem" -out "$SPOOL/ca/issued/$o.pem"
wait_for 20 state_is nochain issued
ok $? "a certificate without its chain is collected"
make_hash_drop nc.sha256
drop_by_rename nc.sha256 nochain
wait_state nc.sha256 failed 30 nochain
ok $? "a request signed with it fails"
like "$(cat "$(request_dir nc.sha256 nochain)/ERROR")" "nc.sha256: the signed output failed its self-check" \
	"because the signature does not pass csodd's own verification"
check "and no signature is published" test -z "$(ls "$(request_dir nc.sha256 nochain)" | grep p7s)"
stop_daemon

# --- command ----------------------------------------------------------------
SPOOL=$T_DIR/spool2
LOG=$T_DIR/csodd2.log
cat >"$T_DIR/ca.sh" <<SH
#!/bin/sh
# A CA client for the test: the developer (by email) picks the behaviour.
LEAF="-extensions leaf -days 30"
issue() { # issue OPENSSL-CA-OPTIONS...: the CSR on stdin, certificate and chain out
	cat >"$T_DIR/in.\$CSOD_ORDER.csr" && openssl ca -batch -config "$CA/ca.cnf" -in "$T_DIR/in.\$CSOD_ORDER.csr" -out /dev/stdout -notext "\$@" 2>/dev/null && cat "$PKI/chain.pem"
}
case "\$CSOD_EMAIL" in
cookie@*) echo garbage ;;
alex@*) cat "$PKI/rsa.pem" ;;
elmo@*) echo "CA refused: policy" >&2; exit 3 ;;
mallory@*) sleep 30.$$ ;;
slowpoke@*) touch "$T_DIR/slowpoke.started"; sleep 8.25; issue \$LEAF ;;
# Hangs the first time, with a helper in the background; answers the next.
wilma@*) [ -e "$T_DIR/wilma.once" ] || { touch "$T_DIR/wilma.once"; sleep 301.5 & sleep 300.5; }; issue \$LEAF ;;
nora@*) issue -extensions noeku -days 30 ;;
olive@*) issue -extensions leaf -startdate 20200101000000Z -enddate 20200201000000Z ;;
*) issue \$LEAF ;;
esac
SH
chmod +x "$T_DIR/ca.sh"
DEVELOPERS_EXTRA="$DEVELOPERS_EXTRA$(dev nora)$(dev olive)"
write_config
sed -i "s|ca = { backend = \"local\"; auto_enroll = true; key_bits = 2048; };|ca = { backend = \"command\"; command = \"$T_DIR/ca.sh\"; command_timeout = \"2s\"; auto_enroll = true; key_bits = 2048; };|" "$CONF"
start_plain || exit 1
wait_for 30 state_is $DEV issued
ok $? "ca.command issues a certificate"
like "$(order_of $DEV)" "^C[0-9]+$" "with a command order number"
is "$(grep -c "order $(order_of $DEV): ca.command started" "$LOG")" 1 "its command ran once"
make_hash_drop c.sha256
drop_by_rename c.sha256
wait_state c.sha256 signed
ok $? "and a request is signed with it"
check "openssl cms verifies it" openssl cms -verify -binary -inform DER \
	-in "$(request_dir c.sha256)/c.sha256.p7s" -content "$T_DIR/c.sha256.data" -CAfile "$PKI/root.pem" -purpose any -out /dev/null
wait_for 30 state_is mallory failed
like "$(cert_error cookie)" "holds no certificate" "a command printing garbage fails the order"
like "$(cert_error alex)" "for another key" "a certificate for another key fails the order"
like "$(cert_error elmo)" "ca.command failed \\(exit status 3\\): CA refused: policy" "a failing command, with its exit status and message"
like "$(cert_error mallory)" "did not finish within 2 s and was killed" "a hanging command is killed at the time limit"
wait_for 10 state_is olive failed
like "$(cert_error nora)" "lacks the codeSigning" "a certificate without codeSigning fails the order"
like "$(cert_error olive)" "has already expired" "an expired certificate fails the order"
# SIGKILL to the command's group is delivered asynchronously: the sleep it
# started may be seen for a moment after the order failed.
wait_for 5 sh -c "! pgrep -f 'slee[p] 30\\.$$' >/dev/null"
ok $? "the hanging command is gone"
check "no key material in the log" sh -c "! grep -q 'PRIVATE KEY' '$LOG'"
stop_daemon
ok $? "csodd stops cleanly"

# --- command, off the event loop --------------------------------------------
# A slow CA (8 s) for a new developer does not hold up a request of one who
# has a certificate; a stop while a command runs kills it (and what it
# started) at once, and its order runs again at the next start.
sed -i 's|command_timeout = "2s"|command_timeout = "60s"|' "$CONF"
start_plain || exit 1
ctl developer add slowpoke@dithercons.com --name "Slow Poke" --user slowpoke --organization "$ORG" >/dev/null
wait_for 20 test -e "$T_DIR/slowpoke.started"
ok $? "a slow ca.command runs for a new developer"
make_hash_drop q.sha256
drop_by_rename q.sha256
wait_state q.sha256 signed 7
ok $? "a request of a developer with a certificate is signed meanwhile"
is "$(cert_state slowpoke)" requested "while the slow order is still requested"
check "and its command still runs" pgrep -f 'slee[p] 8\.25'
# The new developer's own drop waits for the certificate instead of failing.
wait_for 10 test -d "$SPOOL/inbox/slowpoke"
make_hash_drop early.sha256
drop_by_rename early.sha256 slowpoke
wait_state early.sha256 approved 10 slowpoke
ok $? "a drop of the developer whose certificate is on order waits, approved"
wait_for 30 state_is slowpoke issued
ok $? "then the slow order is issued"
wait_state early.sha256 signed 15 slowpoke
ok $? "and the waiting request is signed with the new certificate"
check "its signature verifies" openssl cms -verify -binary -inform DER \
	-in "$(request_dir early.sha256 slowpoke)/early.sha256.p7s" -content "$T_DIR/early.sha256.data" \
	-CAfile "$PKI/root.pem" -purpose any -out /dev/null
cert_field() { sqlite3 "$SPOOL/state/csod.db" "SELECT $2 FROM certificates WHERE developer='$1' ORDER BY id DESC LIMIT 1"; }
is "$(cert_field slowpoke cert_pem | openssl x509 -noout -pubkey)" "$(cert_field slowpoke csr_pem | openssl req -noout -pubkey)" "its certificate is for the order's key"

ctl developer add wilma@dithercons.com --name "Wilma" --user wilma --organization "$ORG" >/dev/null
wait_for 20 pgrep -f 'slee[p] 300\.5'
ok $? "a hanging ca.command runs"
t0=$(date +%s%N)
stop_daemon
ok $? "csodd stops cleanly while it runs"
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
ok $((elapsed_ms < 5000 ? 0 : 1)) "without waiting for the command (${elapsed_ms} ms)"
check "the command and what it started are killed" sh -c "! pgrep -f 'slee[p] 30[01]\.5' >/dev/null"
is "$(cert_state wilma)" requested "its order stays requested"
like "$(cat "$LOG")" "order $(order_of wilma) stays requested as csodd stops" "and the log says it runs again at the next start"
start_plain || exit 1
wait_for 30 state_is wilma issued
ok $? "at the next start its command runs again and the order is issued"
is "$(grep -c "order $(order_of wilma): ca.command started" "$LOG")" 2 "once per start"
make_hash_drop w.sha256
drop_by_rename w.sha256 wilma
wait_state w.sha256 signed 30 wilma
ok $? "and a request is signed with it"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
