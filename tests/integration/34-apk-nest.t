#!/bin/bash
# Nesting onto an APK: an APK has one signer and signing it replaces the
# existing signature, so csod-sign --nest and a request.conf with
# append = true are refused with a one-line reason naming the file (they
# were silently ignored), by csod-sign and by csodd at intake, before any
# approval. The same APK without them is signed, and a JAR in the same
# kind of request still nests.
. "$(dirname "$0")/lib.sh"

missing=$(sh "$CSOD_TOP/tests/fixtures/mkapk.sh" --missing)
[ -z "$missing" ] || skip_all "needs $(echo $missing)"
for t in apksigner jar jarsigner; do
	command -v "$t" >/dev/null || skip_all "needs $t"
done

P=$T_DIR/pki
make_pki "$P"
cd "$T_DIR"
sh "$CSOD_TOP/tests/fixtures/mkapk.sh" app.apk org.csod.nest 'android:minSdkVersion="21"'
ok $? "aapt builds app.apk (minSdkVersion 21)"

sign() { # sign IN OUT [options]
	local in=$1 out=$2
	shift 2
	run_tool csod-sign --cert "$P/rsa.pem" --key "$P/rsa.key" --chain "$P/chain.pem" "$@" "$in" "$out" 2>&1
}
r=$(sign app.apk signed.apk)
ok $? "csod-sign signs the APK: $r"
check "apksigner verify accepts it" apksigner verify signed.apk

for f in app.apk signed.apk; do
	r=$(sign "$f" "nested-$f" --nest)
	rc=$?
	[ $rc -ne 0 ] && [ ! -e "nested-$f" ]
	ok $? "csod-sign --nest on $f is refused (exit $rc, no output)"
	like "$r" "$f: an APK cannot take a nested signature \(--nest" "$f: the reason names the file and --nest"
	is "$(printf '%s\n' "$r" | grep -c .)" 1 "$f: one line"
done

# The daemon: append = true in request.conf.
write_config
start_daemon || exit 1
IN=$SPOOL/inbox/$DEV
mkdir -p src/com/dithers && printf 'class A {}\n' >src/com/dithers/A.class
(cd src && jar cf "$T_DIR/app.jar" com)
mkdir appended
cp app.apk appended/
printf 'append = true;\n' >appended/request.conf
mv appended "$IN/"
if wait_state appended failed 30; then
	out=$(request_dir appended)
	like "$(cat "$out/ERROR")" "app.apk: an APK cannot take a nested signature \(--nest, request.conf append\)" \
		"csodd: append = true on an APK fails the request, naming the file"
	check "csodd: one line" test "$(wc -l <"$out/ERROR")" -eq 1
	check "csodd: nothing was signed" test ! -e "$out/app.apk"
	grep -q "request.created dagwood/appended: 1 file(s); failed" "$LOG"
	ok $? "csodd: refused at intake (the request fails as it is created)"
else
	fail "csodd: append = true on an APK fails the request"
fi
mkdir plain
cp app.apk plain/
printf 'append = false;\n' >plain/request.conf
mv plain "$IN/"
wait_state plain signed 60
ok $? "csodd signs the same APK with append = false"
check "apksigner verify accepts it" apksigner verify "$(request_dir plain)/app.apk"
mkdir jars
cp app.jar jars/
printf 'append = true;\n' >jars/request.conf
mv jars "$IN/"
wait_state jars signed 60
ok $? "append = true on a JAR is still signed"
check "csodd keeps running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
