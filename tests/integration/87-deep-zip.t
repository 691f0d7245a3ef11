#!/bin/bash
# Deep signing of a ZIP drop (release.zip): every PE and JAR inside is
# signed in place, the rest copied byte for byte, the archive rebuilt in
# its own entry order with its names, times and methods; judged after
# unzipping by osslsigncode verify and jarsigner -verify -strict. Bad
# archives (path tricks, duplicates, links, encryption, a zip bomb) are
# refused naming the entry, by csod-sign and by csodd.
. "$(dirname "$0")/lib.sh"
for t in x86_64-w64-mingw32-gcc osslsigncode jar jarsigner keytool zip unzip zipinfo /usr/bin/python3; do
	command -v "$t" >/dev/null || skip_all "needs $t"
done
PKI=$T_DIR/pki
make_pki "$PKI"
cd "$T_DIR"

# --- release.zip, made now ---------------------------------------------------
mkdir -p src/bin src/lib jsrc
printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' >hello.c
printf '__declspec(dllexport) int answer(void) { return 42; }\n' >tool.c
x86_64-w64-mingw32-gcc -O1 -o src/setup.exe hello.c
x86_64-w64-mingw32-gcc -O1 -shared -o src/bin/tool.dll tool.c
printf 'public class A { }\n' >jsrc/A.java
(cd jsrc && jar cf ../src/lib/app.jar A.java) || fail "jar tool"
printf 'Release notes\r\nnothing to see here\r\n' >src/README.txt
touch -d '2020-02-03 04:05:06' src/setup.exe src/bin/tool.dll src/lib/app.jar src/README.txt
# Written in a chosen order, not the sorted one: the output keeps it.
(cd src && zip -q release.zip README.txt bin/tool.dll setup.exe && zip -q -0 release.zip lib/app.jar) &&
	mv src/release.zip . || fail "zip"

sign() { # sign IN OUT [options]: csod-sign with the test PKI's RSA key
	local in=$1 out=$2
	shift 2
	run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" "$@" "$in" "$out" 2>&1
}
# perms, method, time and name of every entry, in order
layout() { zipinfo -T "$1" | awk 'NF >= 9 && $1 ~ /^[-dl]/ {print $1, $6, $7, $NF}'; }
# name, compressed size, CRC of one entry: the same means copied as it was
raw_of() { unzip -v "$1" | awk -v n="$2" '$NF == n {print $NF, $3, $7, $5}'; }
TRUST=$T_DIR/trust.p12
keytool -importcert -noprompt -alias csodroot -file "$PKI/root.pem" -keystore "$TRUST" \
	-storetype pkcs12 -storepass changeit >/dev/null 2>&1
judge() { # judge SIGNED.zip ROOT.pem KEYSTORE WHAT: unzip and verify each inner file
	local z=$1 root=$2 ks=$3 what=$4 x
	x=$(mktemp -d "$T_DIR/x.XXXXXX")
	(cd "$x" && unzip -q "$z") || fail "$what: unzip"
	check "$what: setup.exe verifies" osslsigncode verify -CAfile "$root" -in "$x/setup.exe"
	check "$what: bin/tool.dll in its subfolder verifies" osslsigncode verify -CAfile "$root" -in "$x/bin/tool.dll"
	out=$(jarsigner -verify -strict -keystore "$ks" -storepass changeit "$x/lib/app.jar" 2>&1)
	ok $? "$what: lib/app.jar passes jarsigner -verify -strict ($(echo "$out" | grep -m1 verified))"
	check "$what: README.txt is byte-identical" cmp "$x/README.txt" src/README.txt
	is "$(layout "$z")" "$(layout release.zip)" "$what: entry order, names, times, methods and modes unchanged"
	is "$(raw_of "$z" README.txt)" "$(raw_of release.zip README.txt)" "$what: README.txt's compressed bytes copied"
}

# --- csod-sign ---------------------------------------------------------------
out=$(sign release.zip signed.zip --verbose)
ok $? "csod-sign deep-signs release.zip"
like "$(echo "$out" | tr '\n' ' ')" "inner file 'bin/tool.dll' signed \(pe\)" "and names each inner file it signed"
like "$out" "inner file 'lib/app.jar' signed \(jar\)" "the JAR too"
is "$(unzip -Z1 signed.zip)" "$(unzip -Z1 release.zip)" "unzip -Z1 lists the same entries in the same order"
judge "$T_DIR/signed.zip" "$PKI/root.pem" "$TRUST" csod-sign
check "osslsigncode says the input's setup.exe is unsigned" sh -c "! osslsigncode verify -CAfile '$PKI/root.pem' -in src/setup.exe >/dev/null 2>&1"

# Memory does not grow with the inner files: a 64 MB PE inside (the program
# with 64 MB of payload after its last section).
{ cat src/setup.exe; head -c 67108864 /dev/urandom; } >big.exe
zip -q big.zip big.exe
rss=$( { /usr/bin/time -f '%M' "$CSOD_BIN/csod-sign" --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" big.zip big-signed.zip; } 2>&1 | tail -1)
mkdir -p bx && (cd bx && unzip -q ../big-signed.zip) && osslsigncode verify -CAfile "$PKI/root.pem" -in bx/big.exe >/dev/null 2>&1
ok $? "a ZIP holding a 64 MB PE is signed and the PE verifies"
diag "peak RSS deep-signing a ZIP holding a 64 MB PE: $rss KB"
[ "${CSOD_SAN:-0}" = 1 ] || [ "${CSOD_VALGRIND:-0}" = 1 ] || [ "$rss" -lt 65536 ]
ok $? "peak RSS stays below the inner file's size"
rm -rf big.exe big.zip big-signed.zip bx

# --- a ZIP inside the ZIP is signed the same way, one level down ------------
mkdir -p nest/plugins
(cd src && zip -q ../nest/plugins/plugin.zip bin/tool.dll README.txt)
cp src/setup.exe nest/
(cd nest && zip -q -r ../nested.zip setup.exe plugins)
out=$(sign nested.zip nested-signed.zip --verbose)
ok $? "a ZIP holding a ZIP is signed ($(echo "$out" | tr '\n' ' '))"
like "$(echo "$out" | tr '\n' ' ')" "inner file 'bin/tool.dll' signed \(pe\).*inner file 'plugins/plugin.zip' signed \(zip\)" \
	"the inner ZIP's own files first, then the inner ZIP"
mkdir -p nx && (cd nx && unzip -q ../nested-signed.zip && cd plugins && unzip -q plugin.zip) || fail "unzip nested"
check "the DLL inside the inner ZIP verifies" osslsigncode verify -CAfile "$PKI/root.pem" -in nx/plugins/bin/tool.dll
check "the inner ZIP's README.txt is byte-identical" cmp nx/plugins/README.txt src/README.txt
is "$(unzip -Z1 nx/plugins/plugin.zip)" "$(unzip -Z1 nest/plugins/plugin.zip)" "the inner ZIP keeps its entries and order"
mkdir -p deep3
cp src/setup.exe deep3/
(cd deep3 && zip -q c.zip setup.exe && zip -q b.zip c.zip && zip -q a.zip b.zip && mv a.zip ../deep3.zip)

# --- refusals ------------------------------------------------------------------
refused() { # refused ZIP PATTERN DESCRIPTION
	local out rc
	out=$(sign "$1" "refused-$1")
	rc=$?
	is "$rc" 1 "$3 is refused"
	like "$out" "$2" "with the reason: $(echo "$out" | head -1)"
	is "$(echo "$out" | wc -l)" 1 "in one line"
	[ ! -e "refused-$1" ]
	ok $? "and no output is left"
}
pyzip() { # pyzip OUT NAME... : entries holding a PE, named as given
	/usr/bin/python3 - "$@" <<'PY'
import sys, zipfile, warnings
warnings.simplefilter("ignore")
data = open("src/setup.exe", "rb").read()
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for n in sys.argv[2:]:
        z.writestr(zipfile.ZipInfo(n, (2020, 1, 1, 0, 0, 0)), data)
PY
}
pyzip dotdot.zip setup.exe ../evil.exe
refused dotdot.zip "entry '../evil.exe' has a '..' path component" "an entry named ../evil.exe"
pyzip absolute.zip /etc/evil.exe
refused absolute.zip "entry '/etc/evil.exe' has an absolute name" "an absolute entry name"
pyzip backslash.zip 'bin\..\..\evil.exe'
refused backslash.zip "entry 'bin.*evil.exe' has a '..' path component" "a name with backslashed ..\\"
pyzip backslash2.zip 'C\evil.exe'
refused backslash2.zip "entry 'C.evil.exe' has a backslash in its name" "a name with a backslash"
pyzip control.zip "$(printf 'evil\033[2J.exe')"
refused control.zip "entry 'evil.*' has a control character in its name" "a name with an escape sequence"
pyzip dup.zip setup.exe README.txt setup.exe
refused dup.zip "duplicate entry name 'setup.exe'" "duplicate names"
ln -s /etc/passwd passwd.exe
zip -q -y link.zip passwd.exe README.txt 2>/dev/null || (cd src && zip -q -y ../link.zip ../passwd.exe)
refused link.zip "entry 'passwd.exe' is a symbolic link" "a symlink entry"
(cd src && zip -q -P secret ../enc.zip setup.exe)
refused enc.zip "entry 'setup.exe' is encrypted" "an encrypted entry"
refused deep3.zip "entry 'b.zip': entry 'c.zip': a ZIP archive nested more than 1 deep" "a ZIP in a ZIP in a ZIP"
# 1 GB of zeros deflates to about 1 MB.
/usr/bin/python3 - <<'PY'
import zipfile
zi = zipfile.ZipInfo("zeros.bin", (2020, 1, 1, 0, 0, 0))
zi.compress_type = zipfile.ZIP_DEFLATED
zi.file_size = 1 << 30
block = bytes(1 << 20)
with zipfile.ZipFile("bomb.zip", "w") as z:
    with z.open(zi, "w") as f:
        for _ in range(1024):
            f.write(block)
PY
refused bomb.zip "entry 'zeros.bin' shrinks more than 200:1 when compressed: refused as a zip bomb" "a zip bomb"
# Many entries each under the ratio check, together past the size limit.
/usr/bin/python3 - <<'PY'
import zipfile
with zipfile.ZipFile("wide.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for i in range(5):
        z.writestr(zipfile.ZipInfo("part%d.bin" % i, (2020, 1, 1, 0, 0, 0)), bytes(1 << 20),
                   zipfile.ZIP_DEFLATED)
PY
# ZIPs inside, each well under the limit, that unpack past it together.
mkdir -p nw && seq 1 400000 >nw/numbers.txt
(cd nw && for i in 1 2 3; do zip -q "p$i.zip" numbers.txt; done && zip -q -0 ../nestwide.zip p1.zip p2.zip p3.zip)

# --- through the daemon: a real Unix user's drop, approved by an admin ------
DEV=csodt-zip$$
APPROVER=csodt-zapp$$
for u in $DEV $APPROVER; do useradd -M -N -s /usr/sbin/nologin "$u" || exit 1; done
trap 'for u in $DEV $APPROVER; do userdel "$u" 2>/dev/null; done; cleanup' EXIT
chmod 755 "$T_DIR"
chmod 644 "$T_DIR"/*.zip
AUTO_APPROVE=false MAX_FILE_SIZE=4M \
	ADMINS="{ user = \"$APPROVER\"; email = \"appr@dithercons.com\"; role = \"MRAO\"; }" write_config
start_daemon || exit 1
drop() { runuser -u "$DEV" -- sh -c "cp '$T_DIR/$1' '$SPOOL/inbox/$DEV/.$2.tmp' && mv '$SPOOL/inbox/$DEV/.$2.tmp' '$SPOOL/inbox/$DEV/$2'"; }
approve() { # approve DROP: the admin's marker for its request
	local id
	id=$(dir_id "$(request_dir "$1")")
	runuser -u "$APPROVER" -- sh -c "touch '$SPOOL/approvals/.$id.tmp' && mv '$SPOOL/approvals/.$id.tmp' '$SPOOL/approvals/$id.approve'"
}
drop release.zip release.zip
drop dotdot.zip evil.zip
drop wide.zip wide.zip
drop nestwide.zip nestwide.zip
wait_state release.zip created 60
ok $? "a dropped release.zip waits for approval"
ID=$(dir_id "$(request_dir release.zip)")
DETAILS=$SPOOL/requests/$ID/details.json
wait_for 30 grep -q '"inner"' "$DETAILS"
ok $? "details.json lists the files inside release.zip before approval"
# name signed_by sha256, one line per inner file, in archive order
inner=$(/usr/bin/python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))["files"][0]
for e in f.get("inner", []):
    print(e["name"], e["signed_by"], e["sha256"], e["size"])' "$DETAILS")
want=$(for f in README.txt bin/tool.dll setup.exe lib/app.jar; do
	case $f in *.txt) e=None ;; *.jar) e=jar ;; *) e=pe ;; esac
	echo "$f $e $(sha256sum "src/$f" | cut -d' ' -f1) $(stat -c %s "src/$f")"
done)
is "$inner" "$want" "each inner file with the engine that signs it, its SHA-256 and size"
check "the approver can read it" runuser -u "$APPROVER" -- grep -q '"signed_by": "pe"' "$DETAILS"
approve release.zip
wait_state release.zip signed 90
ok $? "once approved, release.zip is signed by csodd"
D=$(request_dir release.zip)
like "$(cat "$D/request.json")" '"engine": "zip"' "request.json names the zip engine"
keytool -importcert -noprompt -alias csodca -file "$SPOOL/ca/ca.pem" -keystore "$T_DIR/ca.p12" \
	-storetype pkcs12 -storepass changeit >/dev/null 2>&1
judge "$D/release.zip" "$SPOOL/ca/ca.pem" "$T_DIR/ca.p12" csodd
like "$(cat "$LOG")" "release.zip: inner file 'lib/app.jar' signed \(jar\)" "the audit log names each signed inner file"
wait_state evil.zip failed 60
ok $? "a drop with ../evil.exe inside fails at intake"
like "$(cat "$(request_dir evil.zip)/ERROR" 2>/dev/null)" "evil.zip: .*entry '../evil.exe' has a '..' path component" \
	"and ERROR names the entry"
wait_state wide.zip created 60
WID=$(dir_id "$(request_dir wide.zip)")
wait_for 30 grep -q '"inner_error"' "$SPOOL/requests/$WID/details.json"
like "$(cat "$SPOOL/requests/$WID/details.json")" "entries up to 'part[0-9].bin' hold more than 4194304 bytes" \
	"details.json says a drop that unpacks past max_file_size is a zip bomb"
approve wide.zip
wait_state wide.zip failed 60
ok $? "and approved all the same, it fails"
like "$(cat "$(request_dir wide.zip)/ERROR" 2>/dev/null)" "wide.zip: .*entries up to 'part[0-9].bin' hold more than 4194304 bytes uncompressed" \
	"and ERROR says it unpacks past the limit"
wait_state nestwide.zip created 60
approve nestwide.zip
wait_state nestwide.zip failed 60
ok $? "a drop whose inner ZIPs together unpack past max_file_size fails"
like "$(cat "$(request_dir nestwide.zip)/ERROR" 2>/dev/null)" "nestwide.zip: entry 'p[0-9].zip': the archives inside unpack to more than 4194304 bytes in all" \
	"and ERROR names the inner ZIP"
check "csodd keeps running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
