#!/bin/bash
# Several time-stamping authorities, tried in order: a dead port, a TSA
# whose answer carries another nonce, one whose certificate does not chain
# to the configured TSA roots, then a good one; each bad one counts as
# failed with its reason, the good one's stamp is used and named. All
# failing: a clear error (required) or a warning (not required). Real TSAs
# on loopback (openssl ts -reply); judged by openssl cms / openssl ts.
. "$(dirname "$0")/lib.sh"
. "$CSOD_TOP/tests/integration/helpers/tsa.sh"
for t in openssl sqlite3 /usr/bin/python3; do
	command -v "$t" >/dev/null || skip_all "needs $t"
done
P=$T_DIR/pki
make_pki "$P"
tsa_make good
tsa_clone good badnonce # good's keys: only the nonce is wrong
tsa_make stranger       # its own root, which the configuration does not name
tsa_start good ok
tsa_start badnonce badnonce
tsa_start stranger ok
tsa_make flaky
tsa_start flaky error500
trap 'tsa_stop_all; cleanup' EXIT
cd "$T_DIR"
DEAD="http://127.0.0.1:$(dead_port)/tsa"
sign() {
	run_tool csod-sign --cert "$P/rsa.pem" --key "$P/rsa.key" --chain "$P/chain.pem" "$@" 2>&1
}
asked() { wc -l <"$T_DIR/$1/requests.log" 2>/dev/null || echo 0; }
head -c 3000 /dev/urandom >data.bin
sha256sum data.bin >data.sha256

out=$(sign --verbose --timestamp-ca good/tsaroot.pem --timestamp "$DEAD" \
	--timestamp "$TSA_URL_badnonce" --timestamp "$TSA_URL_stranger" --timestamp "$TSA_URL_good" \
	data.sha256 data.p7s)
ok $? "the fourth TSA's stamp is used when the first three fail"
like "$out" "timestamp authority $DEAD failed: .*; trying $TSA_URL_badnonce" "a dead port fails over"
like "$out" "timestamp authority $TSA_URL_badnonce failed: the answer is for another request \(nonce\)" \
	"an answer with another nonce is refused"
like "$out" "timestamp authority $TSA_URL_stranger failed: the timestamp does not check out: certificate verify error" \
	"a TSA that does not chain to --timestamp-ca is refused"
like "$out" "timestamped \(RFC 3161\) by $TSA_URL_good" "--verbose names the TSA that answered"
is "$(asked badnonce) $(asked stranger) $(asked good)" "1 1 1" "each TSA was asked once"
p=$(openssl cms -cmsout -print -inform DER -in data.p7s)
like "$p" "id-smime-aa-timeStampToken" "the signature carries the token"
openssl cms -verify -binary -inform DER -in data.p7s -content data.bin -CAfile "$P/root.pem" \
	-purpose any -out /dev/null 2>/dev/null
ok $? "and still verifies"

# Retries are per server: a TSA answering 500 is asked 1 + 2 times, then
# the next one answers.
out=$(sign --verbose --timestamp-ca good/tsaroot.pem --timestamp "$TSA_URL_flaky" \
	--timestamp "$TSA_URL_good" data.sha256 retried.p7s)
ok $? "after a TSA answering 500, the next one stamps"
is "$(asked flaky)" 3 "the failing TSA was asked three times (two retries)"
like "$out" "timestamp authority $TSA_URL_flaky failed: answered HTTP 500" "saying so"

# Without --timestamp-ca the system's roots are the trust store: the test
# TSA is not among them.
out=$(sign --timestamp "$TSA_URL_good" data.sha256 noca.p7s)
is $? 1 "a TSA that does not chain to the system's roots is refused"
like "$out" "timestamp authority $TSA_URL_good: the timestamp does not check out" "with the reason"

# All failing.
out=$(sign --timestamp-ca good/tsaroot.pem --timestamp "$DEAD" --timestamp "$TSA_URL_badnonce" \
	--timestamp "$TSA_URL_stranger" data.sha256 none.p7s)
is $? 1 "with every TSA failing, a required timestamp fails the signing"
like "$out" "no timestamp authority gave a timestamp: $DEAD: .*; $TSA_URL_badnonce: the answer is for another request \(nonce\); $TSA_URL_stranger: the timestamp does not check out" \
	"naming every TSA and its reason"
check "and leaves no output" test ! -e none.p7s
out=$(sign --timestamp-optional --timestamp-ca good/tsaroot.pem --timestamp "$DEAD" \
	--timestamp "$TSA_URL_badnonce" data.sha256 opt.p7s)
ok $? "not required: signed without a timestamp"
like "$out" "warning: signed without a timestamp \(RFC 3161\): no timestamp authority gave a timestamp" \
	"with a warning"
openssl cms -cmsout -print -inform DER -in opt.p7s | grep -q timeStampToken
is $? 1 "and no token"

# Through the daemon: the same list in timestamp.url.
EXTRA="timestamp = { url = [ \"$DEAD\", \"$TSA_URL_badnonce\", \"$TSA_URL_stranger\", \"$TSA_URL_good\" ];
  ca_file = \"$T_DIR/good/tsaroot.pem\"; required = true; timeout = 5; retries = 0; };"
write_config
start_daemon || exit 1
make_hash_drop t.sha256
drop_by_rename t.sha256
wait_state t.sha256 signed 60
ok $? "csodd signs with the fourth TSA's stamp"
like "$(openssl cms -cmsout -print -inform DER -in "$(request_dir t.sha256)/t.sha256.p7s")" \
	"id-smime-aa-timeStampToken" "the token is there"
id=$(dir_id "$(request_dir t.sha256)")
audit=$(sqlite3 "$SPOOL/state/csod.db" "SELECT detail FROM audit WHERE action='request.timestamp' AND object='$id'")
like "$audit" "t.sha256: timestamp authority $TSA_URL_badnonce failed: the answer is for another request" \
	"the audit trail records each failure"
like "$audit" "t.sha256: timestamped \(RFC 3161\) by $TSA_URL_good" "and which TSA answered"
like "$(cat "$LOG")" "$id.*timestamped \(RFC 3161\) by $TSA_URL_good" "the log names it with the request"
like "$(csodctl --config "$CONF" request show "$id" 2>&1 | tr '\n' ' ')" \
	"Timestamps:.*t.sha256: timestamp authority $DEAD failed.*t.sha256: timestamped \(RFC 3161\) by $TSA_URL_good" \
	"csodctl request show lists them"
stop_daemon

EXTRA="timestamp = { url = [ \"$DEAD\", \"$TSA_URL_stranger\" ];
  ca_file = \"$T_DIR/good/tsaroot.pem\"; required = false; timeout = 5; retries = 0; };"
write_config
start_daemon || exit 1
make_hash_drop u.sha256
drop_by_rename u.sha256
wait_state u.sha256 signed 60
ok $? "not required and every TSA failing: csodd signs without"
id=$(dir_id "$(request_dir u.sha256)")
audit=$(sqlite3 "$SPOOL/state/csod.db" "SELECT detail FROM audit WHERE action='request.timestamp' AND object='$id'")
like "$audit" "u.sha256: signed without a timestamp \(RFC 3161\): no timestamp authority gave a timestamp: $DEAD" \
	"the audit trail says it has none and why"
stop_daemon

EXTRA="timestamp = { url = [ \"$DEAD\", \"$TSA_URL_stranger\" ];
  ca_file = \"$T_DIR/good/tsaroot.pem\"; required = true; timeout = 5; retries = 0; };"
write_config
start_daemon || exit 1
make_hash_drop v.sha256
drop_by_rename v.sha256
wait_state v.sha256 failed 60
ok $? "required and every TSA failing: the request fails"
like "$(cat "$(request_dir v.sha256)/ERROR")" "no timestamp authority gave a timestamp: $DEAD: .*; $TSA_URL_stranger: " \
	"its ERROR names every TSA"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
