#!/bin/bash
# Legacy Authenticode timestamps (Microsoft's "SPC time stamp" protocol,
# osslsigncode -t) for Windows versions that predate RFC 3161 in
# Authenticode: the TSA's signer info becomes a PKCS#9 countersignature.
# From a real TSA on loopback (tests/fixtures/tsa.py signs with openssl);
# judged by osslsigncode verify. Through csod-sign (--timestamp-legacy) and
# through the daemon (request.conf timestamp_protocol = "authenticode").
. "$(dirname "$0")/lib.sh"
. "$CSOD_TOP/tests/integration/helpers/tsa.sh"
for t in osslsigncode x86_64-w64-mingw32-gcc openssl /usr/bin/python3; do
	command -v "$t" >/dev/null || skip_all "needs $t"
done
P=$T_DIR/pki
make_pki "$P"
tsa_make tsa
tsa_make stranger
tsa_start tsa ok
tsa_start stranger ok
tsa_clone tsa junk
tsa_start junk garbage
trap 'tsa_stop_all; cleanup' EXIT
cd "$T_DIR"
sign() {
	run_tool csod-sign --cert "$P/rsa.pem" --key "$P/rsa.key" --chain "$P/chain.pem" \
		--timestamp-ca tsa/tsaroot.pem "$@" 2>&1
}
verify() { # verify FILE CA: osslsigncode's verdict, in verify.out
	osslsigncode verify -CAfile "$2" -TSA-CAfile tsa/tsaroot.pem -in "$1" >verify.out 2>&1
}
# The timestamp's kind, read from the signature itself: "countersignature"
# (legacy) or Microsoft's RFC 3161 attribute.
kinds() {
	rm -f sig.der
	osslsigncode extract-signature -in "$1" -out sig.der >/dev/null 2>&1
	openssl asn1parse -inform DER -in sig.der | grep -o ':countersignature\|:1\.3\.6\.1\.4\.1\.311\.3\.3\.1' |
		sort | uniq -c | tr -s ' ' | paste -sd, -
}
printf 'int main(void){return 0;}\n' >m.c
x86_64-w64-mingw32-gcc -o app.exe m.c

out=$(sign --verbose --timestamp "$TSA_URL_tsa" --timestamp-legacy app.exe legacy.exe)
ok $? "a PE signed with a legacy Authenticode timestamp"
like "$out" "timestamped \(Authenticode legacy\) by $TSA_URL_tsa" "--verbose names the TSA"
check "the TSA was asked in the legacy protocol" grep -qx "ok legacy" tsa/requests.log
verify legacy.exe "$P/root.pem"
ok $? "osslsigncode verifies it"
like "$(cat verify.out)" "Timestamp Server Signature verification: ok" "including the timestamp"
like "$(cat verify.out)" "Timestamp time: " "which shows its time"
is "$(kinds legacy.exe)" " 1 :countersignature" "the timestamp is a PKCS#9 countersignature"

# Without --timestamp-legacy: RFC 3161, as before.
sign --timestamp "$TSA_URL_tsa" app.exe rfc.exe >/dev/null
ok $? "without it the PE gets an RFC 3161 timestamp"
is "$(kinds rfc.exe)" " 1 :1.3.6.1.4.1.311.3.3.1" "in Microsoft's RFC 3161 attribute"

# Two digests: both signatures (the primary and the nested one) stamped.
sign --timestamp "$TSA_URL_tsa" --timestamp-legacy --digest sha1 --digest sha256 app.exe dual.exe >/dev/null
ok $? "a dual-signed PE with legacy timestamps"
verify dual.exe "$P/root.pem"
ok $? "osslsigncode verifies it"
is "$(grep -c 'Timestamp Server Signature verification: ok' verify.out)" 2 "both timestamps verify"

# Failover and trust apply as for RFC 3161.
out=$(sign --verbose --timestamp "$TSA_URL_junk" --timestamp "$TSA_URL_stranger" \
	--timestamp "$TSA_URL_tsa" --timestamp-legacy app.exe failover.exe)
ok $? "garbage and an untrusted TSA fail over to a good one"
like "$out" "timestamp authority $TSA_URL_junk failed: the answer is not an Authenticode timestamp" \
	"garbage is refused"
like "$out" "timestamp authority $TSA_URL_stranger failed: the timestamp does not check out: certificate verify error" \
	"a TSA outside --timestamp-ca is refused"
like "$out" "timestamped \(Authenticode legacy\) by $TSA_URL_tsa" "the good one answered"
verify failover.exe "$P/root.pem"
ok $? "osslsigncode verifies the result"
out=$(sign --timestamp "$TSA_URL_stranger" --timestamp-legacy app.exe stranger.exe)
is $? 1 "an untrusted legacy TSA alone fails a required timestamp"
check "and leaves no output" test ! -e stranger.exe

# Through the daemon: request.conf asks for the legacy protocol.
EXTRA="timestamp = { url = \"$TSA_URL_tsa\"; ca_file = \"$T_DIR/tsa/tsaroot.pem\";
  required = true; timeout = 5; retries = 0; };"
write_config
start_daemon || exit 1
: >tsa/requests.log
mkdir drop
cp app.exe drop/
printf 'timestamp_protocol = "authenticode";\n' >drop/request.conf
mv drop "$SPOOL/inbox/$DEV/old-windows"
wait_state old-windows signed 60
ok $? "csodd signs with a legacy timestamp when request.conf asks for it"
out=$(request_dir old-windows)
verify "$out/app.exe" "$SPOOL/ca/ca.pem"
ok $? "osslsigncode verifies it"
like "$(cat verify.out)" "Timestamp Server Signature verification: ok" "including the timestamp"
is "$(kinds "$out/app.exe")" " 1 :countersignature" "a legacy countersignature"
check "asked in the legacy protocol" grep -qx "ok legacy" tsa/requests.log
mkdir drop2
cp app.exe drop2/
printf 'timestamp_protocol = "sntp";\n' >drop2/request.conf
mv drop2 "$SPOOL/inbox/$DEV/bad-protocol"
wait_state bad-protocol failed 60
ok $? "an unknown timestamp_protocol is refused"
like "$(cat "$(request_dir bad-protocol)/ERROR")" \
	'request.conf:1: timestamp_protocol: expected "rfc3161" or "authenticode"' "naming the line"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
