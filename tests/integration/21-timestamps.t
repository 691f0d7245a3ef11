#!/bin/bash
# RFC 3161 timestamps from a TSA on loopback: in hash signatures and in
# Authenticode signatures (judged by osslsigncode), with a TSA that is down
# or answers garbage, through csod-sign and through the daemon.
. "$(dirname "$0")/lib.sh"
PKI=$T_DIR/pki
TSA=$T_DIR/tsa
make_pki "$PKI"
sh "$CSOD_TOP/tests/fixtures/mktsa.sh" "$TSA"
start_tsa() { # start_tsa MODE -> sets TSA_URL, TSA_PID
	rm -f "$TSA/port"
	# Not on our stdout: prove reads it to the end.
	/usr/bin/python3 "$CSOD_TOP/tests/fixtures/tsa.py" "$TSA" "$TSA/port" "$1" >/dev/null 2>&1 &
	TSA_PID=$!
	wait_for 10 test -s "$TSA/port"
	TSA_URL="http://127.0.0.1:$(cat "$TSA/port")/tsa"
}
stop_tsa() { kill "$TSA_PID" 2>/dev/null; wait "$TSA_PID" 2>/dev/null; }
trap 'stop_tsa; cleanup' EXIT
cd "$T_DIR"
sign() { csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" --timestamp-ca "$TSA/tsaroot.pem" "$@"; }

start_tsa ok
head -c 3000 /dev/urandom >data.bin
sha256sum data.bin >data.sha256
sign --timestamp "$TSA_URL" data.sha256 data.p7s
ok $? "a hash signature with a timestamp"
like "$(openssl cms -cmsout -print -inform DER -in data.p7s)" "id-smime-aa-timeStampToken" \
	"carries the RFC 3161 token as an unsigned attribute"
check "and still verifies" openssl cms -verify -binary -inform DER -in data.p7s -content data.bin \
	-CAfile "$PKI/root.pem" -purpose any -out /dev/null

if command -v x86_64-w64-mingw32-gcc >/dev/null; then
	printf 'int main(void){return 0;}\n' >m.c
	x86_64-w64-mingw32-gcc -o app.exe m.c
	sign --timestamp "$TSA_URL" app.exe app-ts.exe
	ok $? "an Authenticode signature with a timestamp"
	out=$(osslsigncode verify -CAfile "$PKI/root.pem" -TSA-CAfile "$TSA/tsaroot.pem" -in app-ts.exe 2>&1)
	ok $? "osslsigncode verifies it"
	like "$out" "Timestamp Server Signature verification: ok" "including the timestamp"
	like "$out" "Timestamp time: " "which shows its time"
fi
stop_tsa

# A TSA that is down: required fails with the reason, optional signs without.
out=$(sign --timestamp "$TSA_URL" data.sha256 down.p7s 2>&1)
is "$?" 1 "with the TSA down, a required timestamp fails the signing"
like "$out" "timestamp authority $TSA_URL" "naming the TSA"
check "and leaves no output" test ! -e down.p7s
sign --timestamp "$TSA_URL" --timestamp-optional data.sha256 opt.p7s 2>/dev/null
ok $? "with --timestamp-optional it signs without"

# libcurl is loaded only when a timestamp is asked for: csod-sign does not
# link it, signs without it, and says so when a timestamp needs it.
ldd "$CSOD_BIN/csod-sign" | grep -q libcurl
is "$?" 1 "csod-sign does not link libcurl"
curl_lib=$(readlink -f "$(/sbin/ldconfig -p | awk '/libcurl\.so\.4 .*x86-64/ {print $NF; exit}')")
if [ -f "$curl_lib" ] && unshare -m true 2>/dev/null; then
	# A private mount namespace where libcurl is an empty file.
	without_curl() { unshare -m sh -c 'mount --bind /dev/null "$0" && exec "$@"' "$curl_lib" "$@"; }
	without_curl csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" \
		data.sha256 nocurl.p7s
	ok $? "without libcurl, signing without a timestamp works"
	out=$(without_curl csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" \
		--timestamp "$TSA_URL" data.sha256 nocurl-ts.p7s 2>&1)
	is "$?" 1 "without libcurl, a required timestamp fails the signing"
	like "$out" "cannot load libcurl, which timestamps need: .*libcurl" "saying why"
else
	diag "cannot hide libcurl here (needs root and unshare): not tested"
fi

start_tsa garbage
out=$(sign --timestamp "$TSA_URL" data.sha256 garbage.p7s 2>&1)
like "$out" "not a timestamp response" "a TSA answering garbage is refused"
stop_tsa
start_tsa error500
rm -f "$TSA/requests.log"
out=$(sign --timestamp "$TSA_URL" data.sha256 e500.p7s 2>&1)
like "$out" "answered HTTP 500" "a TSA answering 500 is retried, then refused"
n=$(grep -c error500 "$TSA/requests.log" 2>/dev/null)
[ "${n:-0}" -ge 2 ]
ok $? "it was asked more than once ($n times)"
stop_tsa

# Through the daemon: timestamp.url in the config.
start_tsa ok
EXTRA="timestamp = { url = \"$TSA_URL\"; ca_file = \"$TSA/tsaroot.pem\"; required = true; timeout = 5; retries = 0; };"
write_config
start_daemon || exit 1
make_hash_drop t.sha256
drop_by_rename t.sha256
wait_state t.sha256 signed
ok $? "csodd signs with a timestamp from the configured TSA"
like "$(openssl cms -cmsout -print -inform DER -in "$(request_dir t.sha256)/t.sha256.p7s")" \
	"id-smime-aa-timeStampToken" "and the token is there"
stop_tsa
make_hash_drop u.sha256
drop_by_rename u.sha256
wait_state u.sha256 failed 60
ok $? "with the TSA down the request fails"
like "$(cat "$(request_dir u.sha256)/ERROR")" "timestamp authority" "saying why"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
