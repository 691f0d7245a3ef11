#!/bin/bash
# APK signing with csod-sign (v1 when minSdkVersion < 24, v2, v3), judged by
# Debian's apksigner and zipalign.
. "$(dirname "$0")/lib.sh"

for t in apksigner zipalign zip unzip openssl /usr/bin/python3; do
	command -v "$t" >/dev/null || skip_all "needs $t (Debian apksigner, zipalign, zip, unzip)"
done

P=$T_DIR/pki
make_pki "$P"
sign() { # sign KEY IN OUT [options]
	local k=$1 in=$2 out=$3
	shift 3
	run_tool csod-sign --cert "$P/$k.pem" --key "$P/$k.key" --chain "$P/chain.pem" "$@" "$in" "$out" 2>&1
}
scheme() { # scheme N OUTPUT: "true"/"false" for "Verified using vN scheme"
	printf '%s\n' "$2" | sed -n "s/^Verified using v$1 scheme.*: //p"
}

# An APK-shaped archive: apksigner verify needs no binary AndroidManifest
# when told the minimum SDK, and neither does csod-sign.
A=$T_DIR/apk
mkdir -p "$A/lib/x86_64" "$A/res/layout"
printf '<manifest package="org.csod.test"/>\n' >"$A/AndroidManifest.xml"
head -c 300000 /dev/urandom >"$A/classes.dex"
head -c 50001 /dev/zero >"$A/resources.arsc"
head -c 9001 /dev/urandom >"$A/lib/x86_64/libx.so"
printf '<LinearLayout/>\n' >"$A/res/layout/main.xml"
# resources.arsc and the .so stored (as the build tools do), the rest
# deflated; zip does not align anything.
(cd "$A" && zip -q -r "$T_DIR/app.apk" AndroidManifest.xml classes.dex res &&
	zip -q -0 "$T_DIR/app.apk" resources.arsc lib/x86_64/libx.so)
zipalign -c 4 "$T_DIR/app.apk" >/dev/null 2>&1
diag "input aligned before signing: $([ $? = 0 ] && echo yes || echo no)"

for k in rsa ec; do
	for sdk in 14 18 21 24 28; do
		[ $k = ec ] && [ $sdk -lt 18 ] && continue
		out=$T_DIR/signed-$k-$sdk.apk
		r=$(sign $k "$T_DIR/app.apk" "$out" --min-sdk $sdk)
		ok $? "csod-sign $k --min-sdk $sdk: $r"
		v=$(apksigner verify -v --min-sdk-version $sdk "$out" 2>&1)
		ok $? "apksigner verify -v --min-sdk-version $sdk ($k)"
		want_v1=false
		[ $sdk -lt 24 ] && want_v1=true
		is "$(scheme 1 "$v")" $want_v1 "v1 verified=$want_v1 ($k, min sdk $sdk)"
		# From API 28 apksigner checks v3 alone and reports v2 as unused.
		want_v2=true
		[ $sdk -ge 28 ] && want_v2=false
		is "$(scheme 2 "$v")" $want_v2 "v2 verified=$want_v2 ($k, min sdk $sdk)"
		is "$(scheme 3 "$v")" true "v3 verified ($k, min sdk $sdk)"
		check "zipalign -c 4 ($k, min sdk $sdk)" zipalign -c 4 "$out"
		check "zipalign -c -p 4: .so page aligned ($k, min sdk $sdk)" zipalign -c -p 4 "$out"
	done
done
like "$(unzip -p "$T_DIR/signed-rsa-21.apk" META-INF/CSOD.SF)" "X-Android-APK-Signed: 2, 3" \
	"v1 .SF says X-Android-APK-Signed: 2, 3"
# From minSdkVersion 24 on: no v1 files. (This APK's manifest is text, not
# the compiled form, so it must be told; 33-apk-min-sdk.t reads real ones.)
sign rsa "$T_DIR/app.apk" "$T_DIR/default.apk" --min-sdk 24 >/dev/null
ok $? "csod-sign --min-sdk 24"
unzip -l "$T_DIR/default.apk" | grep -q 'META-INF/CSOD'
ok $((!$?)) "min sdk 24: no v1 signature files"
v=$(apksigner verify -v --min-sdk-version 24 "$T_DIR/default.apk" 2>&1)
is "$(scheme 2 "$v")" true "min sdk 24: v2 verified"
is "$(scheme 3 "$v")" true "min sdk 24: v3 verified"

# Entries' bytes are copied, not recompressed.
crcs() { unzip -v "$1" | awk '$NF !~ /^META-INF\// && length($7) == 8 && $7 ~ /^[0-9a-f]+$/ {print $NF, $1, $3, $7}' | sort; }
is "$(crcs "$T_DIR/app.apk" | grep -c 'classes.dex\|libx.so\|resources.arsc')" 3 "entry listing works"
is "$(crcs "$T_DIR/signed-rsa-14.apk")" "$(crcs "$T_DIR/app.apk")" "entries unchanged (sizes, CRCs)"

# Streaming: peak memory does not grow with the archive (2 MB vs 80 MB).
# (The binary itself, not the valgrind wrapper on PATH: this measures RSS.)
if [ -x /usr/bin/time ]; then
	mkdir -p "$T_DIR/big"
	head -c 80000000 /dev/urandom >"$T_DIR/big/assets.bin"
	cp "$A/AndroidManifest.xml" "$A/classes.dex" "$T_DIR/big/"
	(cd "$T_DIR/big" && zip -q -1 "$T_DIR/big.apk" AndroidManifest.xml classes.dex && zip -q -0 "$T_DIR/big.apk" assets.bin)
	rm -rf "$T_DIR/big"
	rss() { /usr/bin/time -f %M -o "$T_DIR/rss" "$CSOD_BIN/csod-sign" --cert "$P/rsa.pem" --key "$P/rsa.key" \
		--chain "$P/chain.pem" --min-sdk 21 "$1" "$2" >/dev/null 2>&1 && cat "$T_DIR/rss"; }
	small=$(rss "$T_DIR/app.apk" "$T_DIR/rss-small.apk")
	big=$(rss "$T_DIR/big.apk" "$T_DIR/rss-big.apk")
	diag "peak RSS: $small KB for a 0.6 MB APK, $big KB for an 80 MB APK"
	[ -n "$small" ] && [ -n "$big" ] && [ $((big - small)) -lt 16384 ]
	ok $? "peak memory grows by less than 16 MB from 0.6 MB to 80 MB of input"
	v=$(apksigner verify -v --min-sdk-version 21 "$T_DIR/rss-big.apk" 2>&1)
	is "$(scheme 1 "$v")/$(scheme 2 "$v")/$(scheme 3 "$v")" "true/true/true" "80 MB APK: v1, v2, v3 verified"
	rm -f "$T_DIR/big.apk" "$T_DIR/rss-big.apk"
else
	diag "no /usr/bin/time (Debian package time): memory check skipped"
fi

# An APK signed by apksigner with another key: ours replaces it.
openssl pkcs8 -topk8 -nocrypt -in "$P/other.key" -outform DER -out "$T_DIR/other.pk8"
openssl x509 -in "$P/other.pem" -outform DER -out "$T_DIR/other.der"
cp "$T_DIR/app.apk" "$T_DIR/pre.apk"
zipalign -f 4 "$T_DIR/app.apk" "$T_DIR/pre-aligned.apk" &&
	apksigner sign --key "$T_DIR/other.pk8" --cert "$T_DIR/other.der" --min-sdk-version 14 \
		--out "$T_DIR/pre.apk" "$T_DIR/pre-aligned.apk" >/dev/null 2>&1
ok $? "apksigner signed the input first"
r=$(sign rsa "$T_DIR/pre.apk" "$T_DIR/resigned.apk" --min-sdk 14)
ok $? "csod-sign re-signs an APK that has a signing block: $r"
v=$(apksigner verify -v --print-certs --min-sdk-version 14 "$T_DIR/resigned.apk" 2>&1)
ok $? "apksigner verify on the re-signed APK"
like "$v" "Dagwood Bumstead" "our certificate signs it"
printf '%s\n' "$v" | grep -q "unrelated signer"
ok $((!$?)) "the previous signer is gone"
is "$(scheme 1 "$v")/$(scheme 2 "$v")/$(scheme 3 "$v")" "true/true/true" "re-signed: v1, v2, v3 verified"

# Tampering after signing is caught by apksigner.
cp "$T_DIR/default.apk" "$T_DIR/tampered.apk"
/usr/bin/python3 - "$T_DIR/tampered.apk" <<'PY'
import sys
p = sys.argv[1]
d = bytearray(open(p, 'rb').read())
i = d.find(b'<manifest package')
d[i + 1] ^= 0x01  # one byte of a stored entry: CRC stays wrong, digests too
open(p, 'wb').write(d)
PY
apksigner verify "$T_DIR/tampered.apk" >/dev/null 2>&1
ok $((!$?)) "apksigner rejects a tampered signed APK"

# Bad input: refused with a one-line reason.
head -c 4000 /dev/urandom >"$T_DIR/not-a-zip.apk"
/usr/bin/python3 - "$T_DIR" <<'PY'
import sys, struct, zlib
d = sys.argv[1]
src = bytearray(open(f'{d}/default.apk', 'rb').read())
i = src.rfind(b'APK Sig Block 42')
bad = bytearray(src)
bad[i - 8:i] = (987654321).to_bytes(8, 'little')
open(f'{d}/corrupt-block.apk', 'wb').write(bad)
size = int.from_bytes(src[i - 8:i], 'little')
start = i + 16 - size - 8
bad = bytearray(src)
bad[start + 8:start + 16] = (10 ** 9).to_bytes(8, 'little')
open(f'{d}/corrupt-pair.apk', 'wb').write(bad)
n = b'../AndroidManifest.xml'
lh = struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, 0, 0, 0, 0, zlib.crc32(b'x'), 1, 1, len(n), 0) + n + b'x'
cd = struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 20, 20, 0, 0, 0, 0, zlib.crc32(b'x'), 1, 1, len(n), 0, 0, 0, 0, 0, 0) + n
eocd = struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 1, 1, len(cd), len(lh), 0)
open(f'{d}/dotdot.apk', 'wb').write(lh + cd + eocd)
PY
for c in "not-a-zip.apk:not a ZIP archive" "corrupt-block.apk:corrupt APK signing block" \
	"corrupt-pair.apk:corrupt APK signing block" "dotdot.apk:'\.\.' path component"; do
	f=${c%%:*} why=${c#*:}
	r=$(sign rsa "$T_DIR/$f" "$T_DIR/refused-$f" --min-sdk 21)
	rc=$?
	[ $rc -ne 0 ] && [ ! -e "$T_DIR/refused-$f" ]
	ok $? "$f refused (exit $rc, no output)"
	like "$r" "$why" "$f: reason names the problem"
	is "$(printf '%s\n' "$r" | grep -c .)" 1 "$f: one line"
done

done_testing
