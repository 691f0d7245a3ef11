#!/bin/bash
# RFC 3161 timestamps in JAR signature blocks and in an APK's v1 (JAR)
# signature, from a real TSA on loopback (openssl ts -reply): the token is
# the signer info's signatureTimeStampToken, as jarsigner -tsa writes it, so
# `jarsigner -verify -verbose -certs` shows "Timestamped by"; through
# csod-sign and through the daemon.
. "$(dirname "$0")/lib.sh"
. "$CSOD_TOP/tests/integration/helpers/tsa.sh"
for t in jar jarsigner keytool zip apksigner zipalign openssl /usr/bin/python3; do
	command -v "$t" >/dev/null || skip_all "needs $t (JDK 17, apksigner, zip, openssl, python3)"
done
P=$T_DIR/pki
make_pki "$P"
tsa_make tsa
tsa_start tsa ok
trap 'tsa_stop_all; cleanup' EXIT
cd "$T_DIR"
# -strict needs both roots trusted: ours for the signer, the TSA's for the
# timestamp.
for r in "$P/root.pem" tsa/tsaroot.pem; do
	keytool -importcert -noprompt -alias "$(basename "$r")" -file "$r" -keystore trust.p12 \
		-storetype pkcs12 -storepass changeit >/dev/null 2>&1
done
jverify() { jarsigner -verify -strict -verbose -certs -keystore trust.p12 -storepass changeit "$@" 2>&1; }
sign() {
	run_tool csod-sign --cert "$P/rsa.pem" --key "$P/rsa.key" --chain "$P/chain.pem" \
		--timestamp-ca tsa/tsaroot.pem "$@" 2>&1
}
token_in() { # token_in ARCHIVE: the signature block's unsigned attributes, printed
	unzip -p "$1" 'META-INF/CSOD.*' -x META-INF/CSOD.SF | openssl cms -cmsout -print -inform DER
}

mkdir -p src/com/dithers
printf 'class A {}\n' >src/com/dithers/A.class
head -c 5000 /dev/urandom >src/data.bin
(cd src && jar cf ../app.jar com data.bin)

out=$(sign --timestamp "$TSA_URL_tsa" app.jar ts.jar)
ok $? "a JAR signed with a timestamp (was: 'not supported yet')"
v=$(jverify ts.jar)
ok $? "jarsigner -verify -strict accepts it"
like "$v" "jar verified\." "jar verified"
like "$v" "Timestamped by \"CN=csod test TSA\" on " "jarsigner shows the timestamp"
like "$v" "Timestamp digest algorithm: SHA-256" "over a SHA-256 imprint"
like "$(token_in ts.jar)" "id-smime-aa-timeStampToken" \
	"the token is the signer info's signatureTimeStampToken"
check "the TSA was asked once" test "$(wc -l <tsa/requests.log)" = 1

# Not required and no TSA: signed without, and said so.
dead="http://127.0.0.1:$(dead_port)/tsa"
out=$(sign --timestamp "$dead" --timestamp-optional app.jar opt.jar)
ok $? "with the TSA down and --timestamp-optional the JAR is signed"
like "$out" "warning: signed without a timestamp" "with a warning (was: not a word)"
v=$(jverify opt.jar)
printf '%s' "$v" | grep -q "Timestamped by"
is $? 1 "and jarsigner finds no timestamp in it"
out=$(sign --timestamp "$dead" app.jar down.jar)
is $? 1 "a required timestamp with the TSA down fails the signing"
like "$out" "timestamp authority $dead: " "naming the TSA and why"
check "and leaves no output" test ! -e down.jar
out=$(sign --timestamp "$TSA_URL_tsa" --timestamp-legacy app.jar legacy.jar)
is $? 1 "the legacy Authenticode protocol is refused for a JAR"
like "$out" "for Authenticode files only" "saying why"

# An APK for minSdkVersion 21 carries a v1 signature: timestamped too.
mkdir -p apk
printf '<manifest package="com.dithers.app"/>\n' >apk/AndroidManifest.xml
head -c 20000 /dev/urandom >apk/classes.dex
(cd apk && zip -q -r ../raw.apk AndroidManifest.xml classes.dex)
zipalign -f 4 raw.apk app.apk
out=$(sign --min-sdk 21 --timestamp "$TSA_URL_tsa" app.apk ts.apk)
ok $? "an APK (minSdkVersion 21) signed with a timestamp"
v=$(apksigner verify -v --min-sdk-version 21 ts.apk 2>&1)
ok $? "apksigner verify accepts it"
like "$v" "Verified using v1 scheme \(JAR signing\): true" "v1"
like "$v" "Verified using v2 scheme \(APK Signature Scheme v2\): true" "v2"
like "$(jarsigner -verify -verbose -certs ts.apk 2>&1)" "Timestamped by \"CN=csod test TSA\"" \
	"its v1 signature block carries the timestamp"
out=$(sign --min-sdk 24 --timestamp "$TSA_URL_tsa" app.apk ts24.apk)
ok $? "an APK for minSdkVersion 24 (no v1) is signed"
like "$out" "no timestamp: APK Signature Scheme v2/v3 has no place for one" \
	"saying why it has no timestamp"

# Through the daemon: a JAR and an APK with min_sdk 21.
EXTRA="timestamp = { url = [ \"$TSA_URL_tsa\" ]; ca_file = \"$T_DIR/tsa/tsaroot.pem\";
  required = true; timeout = 5; retries = 0; };"
write_config
start_daemon || exit 1
mkdir drop
cp app.jar app.apk drop/
printf 'min_sdk = 21;\n' >drop/request.conf
mv drop "$SPOOL/inbox/$DEV/release"
wait_state release signed 60
ok $? "csodd signs a JAR and an APK with timestamps"
out=$(request_dir release)
keytool -importcert -noprompt -alias csodca -file "$SPOOL/ca/ca.pem" -keystore trust.p12 \
	-storetype pkcs12 -storepass changeit >/dev/null 2>&1
v=$(jverify "$out/app.jar")
ok $? "jarsigner -verify -strict accepts the JAR"
like "$v" "Timestamped by \"CN=csod test TSA\" on " "and shows its timestamp"
apksigner verify --min-sdk-version 21 "$out/app.apk" >/dev/null 2>&1
ok $? "apksigner verify accepts the APK"
like "$(jarsigner -verify -verbose -certs "$out/app.apk" 2>&1)" "Timestamped by \"CN=csod test TSA\"" \
	"whose v1 signature carries the timestamp"
audit=$(sqlite3 "$SPOOL/state/csod.db" "SELECT detail FROM audit WHERE action='request.timestamp'")
like "$audit" "app.jar: timestamped \(RFC 3161\) by $TSA_URL_tsa" "the audit trail names the TSA"
like "$(cat "$LOG")" "timestamped \(RFC 3161\) by $TSA_URL_tsa" "and so does the log"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
