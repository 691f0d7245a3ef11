#!/bin/bash
# minSdkVersion read from the APK itself: real APKs built by Debian's aapt
# (a compiled binary AndroidManifest.xml) for minSdkVersion 14, 19, 21, 24,
# 28, two codenames and none at all, signed by csod-sign and by csodd with no
# min-sdk setting. apksigner verify, which reads the manifest itself (no
# --min-sdk-version), judges each: v1 must be there exactly below 24. An
# explicit --min-sdk overrides the manifest; a manifest that cannot be read
# is refused with a one-line reason naming it, at intake in the daemon.
. "$(dirname "$0")/lib.sh"

missing=$(sh "$CSOD_TOP/tests/fixtures/mkapk.sh" --missing)
[ -z "$missing" ] || skip_all "needs $(echo $missing)"
for t in apksigner zip unzip openssl; do
	command -v "$t" >/dev/null || skip_all "needs $t"
done

P=$T_DIR/pki
make_pki "$P"
sign() { # sign IN OUT [options]
	local in=$1 out=$2
	shift 2
	run_tool csod-sign --cert "$P/rsa.pem" --key "$P/rsa.key" --chain "$P/chain.pem" "$@" "$in" "$out" 2>&1
}
scheme() { # scheme N OUTPUT: "true"/"false" for "Verified using vN scheme"
	printf '%s\n' "$2" | sed -n "s/^Verified using v$1 scheme.*: //p"
}
has_v1_files() { unzip -l "$1" | grep -q 'META-INF/CSOD\.SF'; }

# name|uses-sdk attributes|the minSdkVersion apksigner takes from them
CASES="min14|android:minSdkVersion=\"14\"|14
min19|android:minSdkVersion=\"19\" android:targetSdkVersion=\"28\"|19
min21|android:minSdkVersion=\"21\" android:targetSdkVersion=\"33\" android:maxSdkVersion=\"34\"|21
min24|android:minSdkVersion=\"24\"|24
min28|android:minSdkVersion=\"28\" android:targetSdkVersion=\"30\"|28
nougat|android:minSdkVersion=\"N\"|23
pie|android:minSdkVersion=\"P\"|26
nosdk||1"
cd "$T_DIR"
while IFS='|' read -r name attrs _; do
	sh "$CSOD_TOP/tests/fixtures/mkapk.sh" "$T_DIR/$name.apk" "org.csod.$name" "$attrs"
	ok $? "aapt builds $name.apk"
done <<<"$CASES"

# Unsigned, apksigner refuses each for want of a signature (so the manifest
# is what it reads below, not something it skips).
v=$(apksigner verify -v "$T_DIR/min21.apk" 2>&1)
ok $((!$?)) "apksigner refuses the unsigned APK"

verify_case() { # verify_case HOW FILE SDK [APKSIGNER-OPTIONS]
	local how=$1 f=$2 sdk=$3 v want_v1=false want_v2=true
	shift 3
	v=$(apksigner verify -v "$@" "$f" 2>&1)
	ok $? "$how: apksigner verify -v $* (minSdkVersion $sdk)"
	[ "$sdk" -lt 24 ] && want_v1=true
	# From API 28 apksigner checks v3 alone and reports v2 as unused.
	[ "$sdk" -ge 28 ] && want_v2=false
	is "$(scheme 1 "$v")" $want_v1 "$how: v1 verified=$want_v1"
	is "$(scheme 2 "$v")" $want_v2 "$how: v2 verified=$want_v2"
	is "$(scheme 3 "$v")" true "$how: v3 verified"
	has_v1_files "$f"
	is "$([ $? = 0 ] && echo true || echo false)" $want_v1 "$how: v1 files present=$want_v1"
}

while IFS='|' read -r name _ sdk; do
	r=$(sign "$T_DIR/$name.apk" "$T_DIR/$name-signed.apk")
	ok $? "csod-sign $name.apk without --min-sdk: $r"
	verify_case "csod-sign $name" "$T_DIR/$name-signed.apk" "$sdk"
done <<<"$CASES"
check "zipalign -c 4 on a signed one" zipalign -c 4 "$T_DIR/min14-signed.apk"

# An APK from Android's own build: Debian's framework-res.apk (45 MB, a
# 222 KB manifest with hundreds of elements; minSdkVersion 29).
FW=/usr/share/android-framework-res/framework-res.apk
r=$(sign "$FW" "$T_DIR/framework-res-signed.apk")
ok $? "csod-sign framework-res.apk without --min-sdk: $r"
verify_case "csod-sign framework-res.apk" "$T_DIR/framework-res-signed.apk" 29
rm -f "$T_DIR/framework-res-signed.apk"

# An explicit minimum overrides the manifest, both ways.
r=$(sign "$T_DIR/min24.apk" "$T_DIR/min24-as21.apk" --min-sdk 21)
ok $? "csod-sign --min-sdk 21 on a minSdkVersion 24 APK: $r"
verify_case "--min-sdk 21 over 24" "$T_DIR/min24-as21.apk" 21 --min-sdk-version 21
r=$(sign "$T_DIR/min21.apk" "$T_DIR/min21-as24.apk" --min-sdk 24)
ok $? "csod-sign --min-sdk 24 on a minSdkVersion 21 APK: $r"
has_v1_files "$T_DIR/min21-as24.apk"
ok $((!$?)) "--min-sdk 24 over 21: no v1 (the setting wins over the manifest)"
v=$(apksigner verify -v --min-sdk-version 24 "$T_DIR/min21-as24.apk" 2>&1)
ok $? "--min-sdk 24 over 21: verifies for Android 24 and up"
apksigner verify "$T_DIR/min21-as24.apk" >/dev/null 2>&1
ok $((!$?)) "--min-sdk 24 over 21: and, as apksigner says, not for the manifest's 21"
r=$(sign "$T_DIR/min21.apk" "$T_DIR/bad-sdk.apk" --min-sdk 0)
ok $((!$?)) "--min-sdk 0 is refused: $r"
like "$r" "expected an Android API level" "--min-sdk 0: reason"

# Manifests that cannot be read: refused, one line, naming AndroidManifest.xml.
mkdir -p bad/text bad/none
printf '<manifest package="org.csod.text"/>\n' >bad/text/AndroidManifest.xml
(cd bad/text && zip -q "$T_DIR/text.apk" AndroidManifest.xml)
head -c 5000 /dev/urandom >bad/none/classes.dex
(cd bad/none && zip -q "$T_DIR/nomanifest.apk" classes.dex)
mkdir -p bad/cut && unzip -q -o min21.apk -d bad/cut &&
	head -c 600 bad/cut/AndroidManifest.xml >bad/cut/m && mv bad/cut/m bad/cut/AndroidManifest.xml &&
	(cd bad/cut && zip -q -r "$T_DIR/cut.apk" .)
ok $? "an APK with its binary manifest cut short"
for c in "text.apk:AndroidManifest.xml: not Android binary XML \(a text XML file" \
	"nomanifest.apk:no AndroidManifest.xml to read minSdkVersion from" \
	"cut.apk:AndroidManifest.xml: binary XML cut short"; do
	f=${c%%:*} why=${c#*:}
	r=$(sign "$T_DIR/$f" "$T_DIR/refused-$f")
	rc=$?
	[ $rc -ne 0 ] && [ ! -e "$T_DIR/refused-$f" ]
	ok $? "$f refused (exit $rc, no output)"
	like "$r" "$f: $why" "$f: the reason names the file"
	like "$r" "--min-sdk" "$f: and says how to sign it anyway"
	is "$(printf '%s\n' "$r" | grep -c .)" 1 "$f: one line"
	r=$(sign "$T_DIR/$f" "$T_DIR/given-$f" --min-sdk 21)
	ok $? "$f with --min-sdk 21 is signed: $r"
done
v=$(apksigner verify -v --min-sdk-version 21 "$T_DIR/given-text.apk" 2>&1)
ok $? "the text-manifest APK signed with --min-sdk 21 verifies for 21"

# The daemon: single-file drops (no request.conf, so no min_sdk).
write_config
start_daemon || exit 1
IN=$SPOOL/inbox/$DEV
while IFS='|' read -r name _ _; do
	cp "$T_DIR/$name.apk" "$T_DIR/d-$name.apk"
	mv "$T_DIR/d-$name.apk" "$IN/"
done <<<"$CASES"
while IFS='|' read -r name _ sdk; do
	wait_state "d-$name.apk" signed 60
	ok $? "csodd signs d-$name.apk"
	verify_case "csodd $name" "$(request_dir "d-$name.apk")/d-$name.apk" "$sdk"
done <<<"$CASES"

# A request.conf min_sdk overrides the manifest there too.
mkdir drop21
cp min24.apk drop21/
printf 'min_sdk = 21;\n' >drop21/request.conf
mv drop21 "$IN/"
wait_state drop21 signed 60
ok $? "csodd signs a minSdkVersion 24 APK with request.conf min_sdk = 21"
verify_case "csodd min_sdk = 21 over 24" "$(request_dir drop21)/min24.apk" 21 --min-sdk-version 21

# A manifest csodd cannot read fails the request at intake, before any approval.
cp text.apk d-text.apk && mv d-text.apk "$IN/"
if wait_state d-text.apk failed 30; then
	out=$(request_dir d-text.apk)
	like "$(cat "$out/ERROR")" "d-text.apk: AndroidManifest.xml: not Android binary XML" \
		"csodd: a text manifest fails the request, naming the file"
	check "csodd: one line" test "$(wc -l <"$out/ERROR")" -eq 1
	grep -q "request.created dagwood/d-text.apk: 1 file(s); failed" "$LOG"
	ok $? "csodd: refused at intake (the request fails as it is created)"
else
	fail "csodd: a text manifest fails the request"
fi
mkdir given
cp text.apk given/
printf 'min_sdk = 21;\n' >given/request.conf
mv given "$IN/"
wait_state given signed 60
ok $? "csodd signs the text-manifest APK when request.conf gives min_sdk"
v=$(apksigner verify -v --min-sdk-version 21 "$(request_dir given)/text.apk" 2>&1)
is "$(scheme 1 "$v")" true "csodd: min_sdk = 21 from request.conf: v1 verified"
check "csodd keeps running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
