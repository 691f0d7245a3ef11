#!/bin/bash
# deep = true (request.conf) / csod-sign --deep on a container with a
# signature of its own: a WAR's inner JAR and PE, a cabinet's PE files and
# the PE in an MSI's embedded cabinet (File.FileSize and MsiFileHash
# rewritten to match) are signed first, the container rebuilt around them (same order, names,
# times, compression), then the container itself is signed. Judged after
# unpacking: jarsigner -verify -strict on the inner JAR and the WAR,
# osslsigncode verify on the inner PEs and the cabinet, gcab -x (which
# checks every block's checksum). Before approval details.json lists the
# inner files with their hashes, and a ZIP drop's inner ZIP's own files.
# Refused, naming the entry: deep on a PE, over-deep nesting, path
# tricks, duplicates, LZX, a cabinet bomb.
. "$(dirname "$0")/lib.sh"
for t in x86_64-w64-mingw32-gcc osslsigncode jar jarsigner keytool zip unzip gcab /usr/bin/python3 wixl msiextract msiinfo; do
	command -v "$t" >/dev/null || skip_all "needs $t"
done
PKI=$T_DIR/pki
sh "$CSOD_TOP/tests/fixtures/mkpki.sh" "$PKI"
cd "$T_DIR"
MKCAB="/usr/bin/python3 $CSOD_TOP/tests/fixtures/mkcab.py"

# --- inputs, made now -------------------------------------------------------
mkdir -p jsrc war/WEB-INF/lib war/bin cab/sub
printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' >hello.c
x86_64-w64-mingw32-gcc -O1 -o hello.exe hello.c || fail "mingw"
printf 'public class A { }\n' >jsrc/A.java
(cd jsrc && jar cf ../war/WEB-INF/lib/lib.jar A.java) || fail "jar tool"
cp hello.exe war/bin/tool.exe
printf '<html>hi</html>\n' >war/index.html
touch -d '2021-03-04 05:06:08' war/WEB-INF/lib/lib.jar war/bin/tool.exe war/index.html
(cd war && jar cf ../app.war index.html WEB-INF bin) || fail "jar builds the WAR"
cp hello.exe cab/setup.exe && cp hello.exe cab/sub/tool.exe && printf 'readme\r\n' >cab/README.txt
touch -d '2021-03-04 05:06:08' cab/setup.exe cab/sub/tool.exe cab/README.txt
(cd cab && gcab -c -z ../mszip.cab setup.exe README.txt sub/tool.exe && gcab -c ../stored.cab README.txt setup.exe) ||
	fail "gcab builds the cabinets"

sign() { # sign IN OUT [options]
	local in=$1 out=$2
	shift 2
	run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" "$@" "$in" "$out" 2>&1
}
TRUST=$T_DIR/trust.p12
keytool -importcert -noprompt -alias csodroot -file "$PKI/root.pem" -keystore "$TRUST" \
	-storetype pkcs12 -storepass changeit >/dev/null 2>&1
jv() { jarsigner -verify -strict -keystore "$2" -storepass changeit "$1" 2>&1 | grep -q '^jar verified'; }
ov() { osslsigncode verify -CAfile "$2" -in "$1" >/dev/null 2>&1; }
# name, date, attributes of each file in a cabinet, in order
cab_layout() { gcab -l -v "$1" | awk '{print $1, $3, $4, $5}'; }
# each folder's typeCompress
cab_types() {
	/usr/bin/python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read()
n, flags = struct.unpack_from("<H", d, 26)[0], struct.unpack_from("<H", d, 30)[0]
at = 36 + (4 + struct.unpack_from("<H", d, 36)[0] if flags & 4 else 0)
print(" ".join(str(struct.unpack_from("<H", d, at + 8 * i + 6)[0]) for i in range(n)))' "$1"
}
judge_war() { # judge_war SIGNED ROOT KEYSTORE WHAT
	local w=$1 root=$2 ks=$3 what=$4 x
	x=$(mktemp -d "$T_DIR/x.XXXXXX")
	(cd "$x" && unzip -q "$w") || fail "$what: unzip"
	check "$what: the WAR passes jarsigner -verify -strict" jv "$w" "$ks"
	check "$what: WEB-INF/lib/lib.jar inside passes jarsigner -verify -strict" jv "$x/WEB-INF/lib/lib.jar" "$ks"
	check "$what: bin/tool.exe inside verifies" ov "$x/bin/tool.exe" "$root"
	check "$what: index.html is byte-identical" cmp "$x/index.html" war/index.html
	is "$(unzip -Z1 "$w" | grep -v '^META-INF/[^/]*\.\(SF\|RSA\)$')" "$(unzip -Z1 app.war)" \
		"$what: the WAR's entries in their order (and the signature files)"
}
judge_cab() { # judge_cab SIGNED INPUT ROOT WHAT
	local c=$1 in=$2 root=$3 what=$4 x f
	x=$(mktemp -d "$T_DIR/x.XXXXXX")
	check "$what: osslsigncode verifies the cabinet" ov "$c" "$root"
	(cd "$x" && gcab -x "$c") >/dev/null 2>&1
	ok $? "$what: gcab -x unpacks it (block checksums checked)"
	for f in $(gcab -l "$in" | awk '{print $1}' | tr '\\' /); do
		case $f in
		*.exe) check "$what: $f inside verifies" ov "$x/$f" "$root" ;;
		*) check "$what: $f is byte-identical" cmp "$x/$f" "cab/$f" ;;
		esac
	done
	is "$(cab_layout "$c")" "$(cab_layout "$in")" "$what: names, dates and attributes in order"
	is "$(cab_types "$c")" "$(cab_types "$in")" "$what: each folder keeps its compression"
}

# --- csod-sign ----------------------------------------------------------------
out=$(sign app.war plain.war)
ok $? "without --deep the WAR is signed"
mkdir px && (cd px && unzip -q ../plain.war)
check "... but the PE inside is left unsigned" sh -c "! osslsigncode verify -CAfile '$PKI/root.pem' -in px/bin/tool.exe >/dev/null 2>&1"
out=$(sign app.war deep.war --deep --verbose)
ok $? "csod-sign --deep signs the WAR"
like "$(echo "$out" | tr '\n' ' ')" "inner file 'WEB-INF/lib/lib.jar' signed \(jar\).*inner file 'bin/tool.exe' signed \(pe\)" \
	"naming each inner file it signed"
judge_war "$T_DIR/deep.war" "$PKI/root.pem" "$TRUST" csod-sign
for c in mszip stored; do
	out=$(sign $c.cab deep-$c.cab --deep --verbose)
	ok $? "csod-sign --deep signs $c.cab ($(echo "$out" | tr '\n' ' '))"
	judge_cab "$T_DIR/deep-$c.cab" $c.cab "$PKI/root.pem" "csod-sign $c"
done
# An MSI made by wixl: its embedded cabinet's PE signed, File.FileSize and
# MsiFileHash rewritten to the signed file's, then the MSI signed.
. "$CSOD_TOP/tests/integration/helpers/make_msi.sh"
mkdir -p msi && cp hello.exe msi/setup.exe && printf 'readme\r\n' >msi/README.txt
(cd msi && make_msi ../app.msi setup.exe README.txt >/dev/null 2>&1) || fail "wixl builds the MSI"
judge_msi() { # judge_msi SIGNED ROOT WHAT
	local m=$1 root=$2 what=$3 x
	x=$(mktemp -d "$T_DIR/x.XXXXXX")
	check "$what: osslsigncode verifies the MSI" ov "$m" "$root"
	msiextract -C "$x" "$m" >/dev/null
	ok $? "$what: msiextract unpacks it"
	check "$what: setup.exe inside verifies" ov "$x/Program Files/csodtest/setup.exe" "$root"
	check "$what: README.txt inside is byte-identical" cmp "$x/Program Files/csodtest/README.txt" msi/README.txt
	is "$(msiinfo export "$m" File | tr -d "\r" | awk -F'\t' '$3 == "setup.exe" {print $4}')" \
		"$(stat -c %s "$x/Program Files/csodtest/setup.exe")" "$what: File.FileSize is the signed setup.exe's size"
	# MsiFileHash: the MD5 as four little-endian signed 32-bit numbers
	want=$(/usr/bin/python3 -c 'import hashlib, struct, sys
print(" ".join(str(v) for v in struct.unpack("<4i", hashlib.md5(open(sys.argv[1], "rb").read()).digest())))' \
		"$x/Program Files/csodtest/setup.exe")
	is "$(msiinfo export "$m" MsiFileHash | tr -d "\r" | awk -F'\t' '$1 == "f1" {print $3, $4, $5, $6}')" "$want" \
		"$what: MsiFileHash holds the signed setup.exe's MD5"
	is "$(msiinfo export "$m" MsiFileHash | tr -d "\r" | awk -F'\t' '$1 == "f2"')" "$(msiinfo export app.msi MsiFileHash | tr -d "\r" | awk -F'\t' '$1 == "f2"')" \
		"$what: README.txt's row is unchanged"
}
out=$(sign app.msi deep.msi --deep --verbose)
ok $? "csod-sign --deep signs the MSI ($(echo "$out" | tr '\n' ' '))"
like "$out" "inner file 'f1' signed \(pe\)" "naming the inner file by its File table key"
judge_msi "$T_DIR/deep.msi" "$PKI/root.pem" csod-sign
sign mszip.cab plain.cab >/dev/null
mkdir pc && (cd pc && gcab -x ../plain.cab >/dev/null)
check "without --deep a cabinet's PE stays unsigned" sh -c "! osslsigncode verify -CAfile '$PKI/root.pem' -in pc/setup.exe >/dev/null 2>&1"

# --- refusals -----------------------------------------------------------------
refused() { # refused IN PATTERN DESCRIPTION
	local out rc
	out=$(sign "$1" "refused-$1" --deep)
	rc=$?
	is "$rc" 1 "$3 is refused"
	like "$out" "$2" "with the reason: $(echo "$out" | head -1)"
	is "$(echo "$out" | wc -l)" 1 "in one line"
	[ ! -e "refused-$1" ]
	ok $? "and no output is left"
}
refused hello.exe "a pe file has no inner files to sign" "--deep on a PE"
out=$(sign mszip.cab nest.cab --deep --nest)
is "$?:$out" "1:csod-sign: mszip.cab: deep signing changes the files inside, so the container's existing signatures cannot be kept (append/--nest refused)" \
	"--deep with --nest is refused in one line"
mkdir -p n3 && cp hello.exe n3/ && (cd n3 && zip -q b.zip hello.exe && zip -q a.zip b.zip && cp -r ../war/* . && jar cf ../nest.war index.html a.zip)
refused nest.war "entry 'a.zip': entry 'b.zip': a ZIP archive nested more than 1 deep" "a ZIP in a ZIP in a WAR"
/usr/bin/python3 - <<'PY'
import zipfile
with zipfile.ZipFile("dotdot.war", "w") as z:
    z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n")
    z.writestr("../evil.exe", open("hello.exe", "rb").read())
PY
refused dotdot.war "'../evil.exe'" "a WAR entry named ../evil.exe"
$MKCAB dotdot.cab 0 'setup.exe=hello.exe' '..\evil.exe=hello.exe'
refused dotdot.cab "file '..\\\\evil.exe' has an empty, '.' or '..' path component" "a cabinet file named ..\\evil.exe"
$MKCAB drive.cab 0 'C:evil.exe=hello.exe'
refused drive.cab "file 'C:evil.exe' has a drive or stream name" "a cabinet file named C:evil.exe"
$MKCAB absolute.cab 0 '\Windows\evil.exe=hello.exe'
refused absolute.cab "file '.*evil.exe' has an absolute name" "an absolute cabinet file name"
$MKCAB dup.cab 0 'Setup.exe=hello.exe' 'SETUP.EXE=hello.exe'
refused dup.cab "duplicate file name 'SETUP.EXE' in the cabinet" "names that differ only in case"
$MKCAB lzx.cab 0x1503 'setup.exe=hello.exe'
refused lzx.cab "folder 1 is LZX-compressed" "an LZX cabinet"
head -c 8388608 /dev/zero >zeros.bin && gcab -c -z bomb.cab zeros.bin && rm zeros.bin
refused bomb.cab "folder 1 shrinks more than 200:1 when compressed: refused as a cabinet bomb" "an MSZIP cabinet bomb"

# --- through the daemon: real users, request.conf deep = true, approval --------
DEV=csodt-dc$$
APPROVER=csodt-dca$$
for u in $DEV $APPROVER; do useradd -M -N -s /usr/sbin/nologin "$u" || exit 1; done
trap 'for u in $DEV $APPROVER; do userdel "$u" 2>/dev/null; done; cleanup' EXIT
chmod 755 "$T_DIR"
mkdir -p web cabs pe plugins/nest/plugins
cp app.war web/ && printf 'deep = true;\n' >web/request.conf
cp mszip.cab cabs/setup.cab && printf 'deep = true;\n' >cabs/request.conf
cp hello.exe pe/ && printf 'deep = true;\n' >pe/request.conf
mkdir msis && cp app.msi msis/ && printf 'deep = true;\n' >msis/request.conf
mkdir nestdeep && cp mszip.cab nestdeep/setup.cab && printf 'deep = true;\nappend = true;\n' >nestdeep/request.conf
mkdir badcab && cp dotdot.cab badcab/ && printf 'deep = true;\n' >badcab/request.conf
(cd cab && zip -q ../plugins/nest/plugins/plugin.zip setup.exe README.txt)
cp hello.exe plugins/nest/ && (cd plugins/nest && zip -q -r ../release.zip hello.exe plugins) && rm -r plugins/nest
chmod -R a+rX web cabs msis pe nestdeep badcab plugins
AUTO_APPROVE=false ADMINS="{ user = \"$APPROVER\"; email = \"appr@dithercons.com\"; role = \"MRAO\"; }" write_config
start_daemon || exit 1
drop() { runuser -u "$DEV" -- sh -c "cp -r '$T_DIR/$1' '$SPOOL/inbox/$DEV/.$1.tmp' && mv '$SPOOL/inbox/$DEV/.$1.tmp' '$SPOOL/inbox/$DEV/$1'"; }
approve() {
	local id
	id=$(dir_id "$(request_dir "$1")")
	runuser -u "$APPROVER" -- sh -c "touch '$SPOOL/approvals/.$id.tmp' && mv '$SPOOL/approvals/.$id.tmp' '$SPOOL/approvals/$id.approve'"
}
# name signed_by sha256 [file_name] of each inner file (nested ones as ZIP!name)
inner_of() {
	/usr/bin/python3 -c '
import json, sys
for f in json.load(open(sys.argv[1]))["files"]:
    for e in f.get("inner", []):
        print(e["name"], e["signed_by"], e["sha256"], *([e["file_name"]] if "file_name" in e else []))
        for n in e.get("inner", []):
            print(e["name"] + "!" + n["name"], n["signed_by"], n["sha256"])' "$1"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
for d in web cabs msis pe nestdeep badcab plugins; do drop $d; done
wait_state pe failed 60
ok $? "deep = true on a PE fails at intake"
like "$(cat "$(request_dir pe)/ERROR" 2>/dev/null)" "hello.exe: deep signing asked for, but a pe file has no inner files to sign" \
	"and ERROR says why"
wait_state nestdeep failed 60
ok $? "deep = true with append = true fails at intake"
like "$(cat "$(request_dir nestdeep)/ERROR" 2>/dev/null)" "setup.cab: deep signing changes the files inside, so the container's existing signatures cannot be kept" \
	"and ERROR says why"
wait_state badcab failed 60
ok $? "deep = true on a cabinet holding ..\\evil.exe fails at intake, before approval"
like "$(cat "$(request_dir badcab)/ERROR" 2>/dev/null)" "dotdot.cab: file '..\\\\evil.exe' has an empty, '.' or '..' path component" \
	"and ERROR names the file inside"
for d in web cabs msis plugins; do
	wait_state $d created 60
	ok $? "$d waits for approval"
	wait_for 30 grep -q '"inner"' "$SPOOL/requests/$(dir_id "$(request_dir $d)")/details.json"
	ok $? "$d: details.json lists the inner files before approval"
done
want=$(unzip -Z1 app.war | while read -r n; do
	case $n in */) continue ;; *.jar) e=jar ;; *.exe) e=pe ;; *) e=None ;; esac
	echo "$n $e $(unzip -p app.war "$n" | sha256sum | cut -d' ' -f1)"
done)
is "$(inner_of "$SPOOL/requests/$(dir_id "$(request_dir web)")/details.json")" "$want" \
	"the WAR's inner files, the engine for each and their SHA-256"
is "$(inner_of "$SPOOL/requests/$(dir_id "$(request_dir cabs)")/details.json")" \
	"$(printf '%s\n' "setup.exe pe $(sha cab/setup.exe)" "README.txt None $(sha cab/README.txt)" "sub\\tool.exe pe $(sha cab/sub/tool.exe)")" \
	"the cabinet's files, the engine for each and their SHA-256"
is "$(inner_of "$SPOOL/requests/$(dir_id "$(request_dir plugins)")/details.json")" \
	"$(printf '%s\n' "hello.exe pe $(sha hello.exe)" "plugins/plugin.zip zip $(unzip -p plugins/release.zip plugins/plugin.zip | sha256sum | cut -d' ' -f1)" \
		"plugins/plugin.zip!setup.exe pe $(sha cab/setup.exe)" "plugins/plugin.zip!README.txt None $(sha cab/README.txt)")" \
	"a ZIP drop's inner ZIP lists its own files"
is "$(inner_of "$SPOOL/requests/$(dir_id "$(request_dir msis)")/details.json")" \
	"$(printf '%s\n' "f1 pe $(sha msi/setup.exe) setup.exe" "f2 None $(sha msi/README.txt) README.txt")" \
	"the MSI's cabinet files, the engine for each, their SHA-256 and File table names"
for d in web cabs msis plugins; do approve $d; done
for d in web cabs msis plugins; do
	wait_state $d signed 90
	ok $? "once approved, $d is signed"
done
keytool -importcert -noprompt -alias csodca -file "$SPOOL/ca/ca.pem" -keystore "$T_DIR/ca.p12" \
	-storetype pkcs12 -storepass changeit >/dev/null 2>&1
judge_war "$(request_dir web)/app.war" "$SPOOL/ca/ca.pem" "$T_DIR/ca.p12" csodd
judge_cab "$(request_dir cabs)/setup.cab" mszip.cab "$SPOOL/ca/ca.pem" csodd
judge_msi "$(request_dir msis)/app.msi" "$SPOOL/ca/ca.pem" csodd
like "$(cat "$LOG")" "setup.cab: inner file 'sub.tool.exe' signed \(pe\)" "the audit log names each signed inner file"
check "csodd keeps running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
