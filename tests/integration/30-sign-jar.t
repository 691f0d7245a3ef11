#!/bin/bash
# JAR/WAR/EAR signing with csod-sign, judged by the JDK's own
# `jarsigner -verify -strict`.
#
# What -strict needs: every warning that is a signer *error* fails it. Our
# leaf chains through the test intermediate to the test root, which no JDK
# trusts, so without help -strict fails with "This jar contains entries whose
# certificate chain is invalid". The fix is a truststore: the test root
# imported with keytool into a PKCS12 keystore, passed as -keystore (jarsigner
# then also marks entries with "k"). The chain inside the PKCS#7 block must
# reach that root (we embed leaf + intermediate + root). A missing timestamp
# stays a plain warning. SHA-1 is disabled for JAR signatures made after 2019
# by JDK 17 (jdk.jar.disabledAlgorithms "SHA1 denyAfter 2019-01-01"): a
# SHA-1-only JAR is "treated as unsigned" by default and verifies with that
# rule lifted; sha256 + sha1 together verify everywhere.
. "$(dirname "$0")/lib.sh"

for t in jar jarsigner keytool zip unzip /usr/bin/python3; do
	command -v "$t" >/dev/null || skip_all "needs $t (JDK 17, zip, unzip, python3)"
done

P=$T_DIR/pki
make_pki "$P"
TRUST=$T_DIR/trust.p12
keytool -importcert -noprompt -alias csodroot -file "$P/root.pem" -keystore "$TRUST" \
	-storetype pkcs12 -storepass changeit >/dev/null 2>&1
jverify() { jarsigner -verify -strict -verbose -keystore "$TRUST" -storepass changeit "$@" 2>&1; }
sign() { # sign KEY IN OUT [options]
	local k=$1 in=$2 out=$3
	shift 3
	run_tool csod-sign --cert "$P/$k.pem" --key "$P/$k.key" --chain "$P/chain.pem" "$@" "$in" "$out" 2>&1
}
# Entries other than META-INF, as "name size compressed-size crc" lines:
# equal before and after signing means the bytes were copied, not redone.
entries() { unzip -v "$1" | awk '$NF !~ /^META-INF\// && length($7) == 8 && $7 ~ /^[0-9a-f]+$/ {print $NF, $1, $3, $7}' | sort; }

# --- inputs, made now ---
S=$T_DIR/src
mkdir -p "$S/com/example/deep/er" "$S/static"
printf 'public class A { }\n' >"$S/com/example/A.java"
head -c 70000 /dev/urandom >"$S/com/example/deep/er/random.bin"
yes 'the same line over and over' | head -5000 >"$S/com/example/deep/text.txt"
printf '<html>é ü</html>\n' >"$S/static/index.html"
long=$(printf 'x%.0s' $(seq 1 150))
printf 'Main-Class: com.example.A\nImplementation-Title: csod test\nX-Long-Attribute: %s\n' "$long" >"$T_DIR/mf.txt"
(cd "$S" && jar cfm "$T_DIR/made-by-jar.jar" "$T_DIR/mf.txt" com static) || fail "jar tool"
(cd "$S" && zip -q -r "$T_DIR/zip-mixed.jar" com && zip -q -0 -r "$T_DIR/zip-mixed.jar" static)
# Written to a pipe, zip uses data descriptors (sizes after the data).
(cd "$S" && zip -q -r - com static) >"$T_DIR/streamed.jar"
REAL=$(find -L /usr/share/java -maxdepth 1 -name '*.jar' -size +20k 2>/dev/null | sort | head -1)
[ -n "$REAL" ] && cp -L "$REAL" "$T_DIR/real.jar"
cp "$T_DIR/made-by-jar.jar" "$T_DIR/app.war"
cp "$T_DIR/zip-mixed.jar" "$T_DIR/app.ear"

# --- RSA and EC keys, each digest ---
for k in rsa ec; do
	for d in sha256 sha384 sha512; do
		out=$T_DIR/out-$k-$d.jar
		r=$(sign $k "$T_DIR/made-by-jar.jar" "$out" --digest $d)
		ok $? "csod-sign $k $d: $r"
		v=$(jverify "$out")
		ok $? "jarsigner -verify -strict accepts $k $d"
		like "$v" "jar verified\." "jarsigner says jar verified ($k $d)"
		want=$(echo $d | sed 's/sha/SHA-/')
		like "$(unzip -p "$out" META-INF/MANIFEST.MF)" "$want-Digest: " "manifest carries $want digests ($k)"
	done
done
ext=$(unzip -l "$T_DIR/out-ec-sha256.jar" | grep -o 'META-INF/CSOD\.[A-Z]*$' | grep -v SF)
is "$ext" "META-INF/CSOD.EC" "EC signature block is named .EC"

# Main attributes of an existing manifest are kept; 72-byte lines.
mf=$(unzip -p "$T_DIR/out-rsa-sha256.jar" META-INF/MANIFEST.MF)
like "$mf" "Main-Class: com.example.A" "existing Main-Class kept"
like "$mf" "Implementation-Title: csod test" "existing main attribute kept"
longest=$(unzip -p "$T_DIR/out-rsa-sha256.jar" META-INF/MANIFEST.MF | tr -d '\r' | awk '{ if (length($0) > m) m = length($0) } END { print m }')
[ "$longest" -le 72 ]
ok $? "manifest lines are at most 72 bytes (longest $longest)"
n=$(entries "$T_DIR/made-by-jar.jar" | grep -c 'random.bin\|text.txt\|A.java')
is "$n" 3 "entry listing works (sees the 3 files)"
is "$(entries "$T_DIR/out-rsa-sha256.jar")" "$(entries "$T_DIR/made-by-jar.jar")" \
	"entries' compressed bytes copied unchanged (sizes and CRCs)"
check "unzip -t accepts the signed JAR" unzip -tq "$T_DIR/out-rsa-sha256.jar"

# --- other inputs: zip (stored + deflated, no manifest), data descriptors,
# a real Debian JAR, WAR and EAR names ---
for f in zip-mixed.jar streamed.jar real.jar app.war app.ear; do
	[ -f "$T_DIR/$f" ] || {
		diag "no $f on this machine"
		continue
	}
	out=$T_DIR/signed-$f
	r=$(sign rsa "$T_DIR/$f" "$out")
	ok $? "csod-sign $f: $r"
	like "$(jverify "$out")" "jar verified\." "jarsigner -verify -strict: $f verified"
	is "$(entries "$out")" "$(entries "$T_DIR/$f")" "$f: entries copied unchanged"
done

# --- SHA-1 for old verifiers ---
out=$T_DIR/sha256-sha1.jar
sign rsa "$T_DIR/made-by-jar.jar" "$out" --digest sha256 --digest sha1 >/dev/null
ok $? "csod-sign sha256 + sha1"
like "$(unzip -p "$out" META-INF/MANIFEST.MF)" "SHA1-Digest: " "manifest carries SHA1 digests too"
like "$(jverify "$out")" "jar verified\." "sha256 + sha1 JAR verified"
out=$T_DIR/sha1.jar
sign rsa "$T_DIR/made-by-jar.jar" "$out" --digest sha1 >/dev/null
ok $? "csod-sign sha1 only"
printf 'jdk.jar.disabledAlgorithms=MD2, MD5, RSA keySize < 1024, DSA keySize < 1024\n' >"$T_DIR/sha1-ok.security"
like "$(jverify -J-Djava.security.properties="$T_DIR/sha1-ok.security" "$out")" "jar verified\." \
	"sha1-only JAR verified where SHA-1 is allowed (old verifiers)"
like "$(jverify "$out")" "treated as unsigned" "JDK 17 default policy treats sha1-only as unsigned"

# --- already signed JARs: append beside, or replace ---
openssl pkcs12 -export -in "$P/other.pem" -inkey "$P/other.key" -name other \
	-out "$T_DIR/other.p12" -passout pass:changeit 2>/dev/null
jarsigner -keystore "$T_DIR/other.p12" -storepass changeit -signedjar "$T_DIR/pre.jar" \
	"$T_DIR/made-by-jar.jar" other >/dev/null 2>&1
ok $? "jarsigner signed the input first (signer OTHER)"
cp "$TRUST" "$T_DIR/trust2.p12"
keytool -importcert -noprompt -alias other -file "$P/other.pem" -keystore "$T_DIR/trust2.p12" \
	-storetype pkcs12 -storepass changeit >/dev/null 2>&1
sign rsa "$T_DIR/pre.jar" "$T_DIR/appended.jar" --nest >/dev/null
ok $? "csod-sign --nest (append) on a signed JAR"
v=$(jarsigner -verify -strict -verbose -keystore "$T_DIR/trust2.p12" -storepass changeit "$T_DIR/appended.jar" 2>&1)
like "$v" "jar verified\." "appended JAR verified with both signers trusted"
like "$v" 'Signed by "CN=unrelated signer"' "the first signer is still there"
like "$v" 'Signed by "CN=Dagwood Bumstead' "our signer is there"
like "$(unzip -l "$T_DIR/appended.jar")" "META-INF/OTHER.SF" "OTHER.SF kept"
# Appending with another digest than the first signer's keeps its manifest
# sections byte for byte (else its .SF section digests would break).
sign rsa "$T_DIR/pre.jar" "$T_DIR/appended512.jar" --nest --digest sha512 >/dev/null
ok $? "csod-sign --nest --digest sha512 beside a SHA-256 signer"
v=$(jarsigner -verify -strict -verbose -keystore "$T_DIR/trust2.p12" -storepass changeit "$T_DIR/appended512.jar" 2>&1)
like "$v" "jar verified\." "both signers verified (sha256 + sha512)"
like "$v" "Digest algorithm: SHA-512" "our signer uses SHA-512"
sign rsa "$T_DIR/pre.jar" "$T_DIR/replaced.jar" >/dev/null
ok $? "csod-sign (replace) on a signed JAR"
v=$(jverify "$T_DIR/replaced.jar")
like "$v" "jar verified\." "replaced JAR verified"
echo "$v" | grep -q 'unrelated signer'
ok $((!$?)) "the other signer is gone"
unzip -l "$T_DIR/replaced.jar" | grep -q 'OTHER\.'
ok $((!$?)) "OTHER.SF/.RSA removed"
sign rsa "$T_DIR/pre.jar" "$T_DIR/alias.jar" --alias Release_1 >/dev/null
like "$(unzip -l "$T_DIR/alias.jar")" "META-INF/RELEASE_1.SF" "--alias names the signature files"

# --- tampering is caught by the real verifier ---
cp "$T_DIR/out-rsa-sha256.jar" "$T_DIR/tampered.jar"
(cd "$S" && printf 'changed\n' >com/example/A.java && zip -q "$T_DIR/tampered.jar" com/example/A.java)
jverify "$T_DIR/tampered.jar" | grep -q "jar verified\.$"
ok $((!$?)) "jarsigner rejects a signed JAR whose entry was changed afterwards"

# --- bad input: refused with a one-line reason, nothing written ---
/usr/bin/python3 - "$T_DIR" <<'PY'
import struct, sys, zlib, warnings, zipfile
d = sys.argv[1]
warnings.simplefilter('ignore')
def raw(name, entries, cut_cd=0):
    lh = cd = b''
    for n, method, comp, usize, crc in entries:
        n = n.encode()
        off = len(lh)
        lh += struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, 0, method, 0, 0, crc, len(comp), usize, len(n), 0) + n + comp
        cd += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 20, 20, 0, method, 0, 0, crc, len(comp), usize, len(n), 0, 0, 0, 0, 0, off) + n
    eocd = struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, len(entries), len(entries), len(cd), len(lh), 0)
    open(f'{d}/{name}', 'wb').write(lh + cd[:len(cd) - cut_cd] + eocd)
ok = lambda n, b: (n, 0, b, len(b), zlib.crc32(b))
raw('dotdot.jar', [ok('a.txt', b'a'), ok('../../etc/evil', b'x')])
raw('absolute.jar', [ok('/etc/evil', b'x')])
raw('duplicate.jar', [ok('a.txt', b'a'), ok('a.txt', b'b')])
raw('truncated-cd.jar', [ok('a.txt', b'a'), ok('b.txt', b'b')], cut_cd=20)
z = zlib.compressobj(9, zlib.DEFLATED, -15)
tiny = z.compress(b'\0' * 100000) + z.flush()
raw('bomb-declared.jar', [('zeros', 8, tiny, 3000000000, 0)])
raw('bomb-actual.jar', [('zeros', 8, tiny, 1000, zlib.crc32(b'\0' * 100000))])
PY
# An archive with no entries is its 22-byte end record alone; jarsigner signs it.
printf 'PK\005\006%018d' 0 | tr 0 '\000' >"$T_DIR/empty.jar"
is "$(stat -c %s "$T_DIR/empty.jar")" 22 "the empty archive is the end record alone"
r=$(sign rsa "$T_DIR/empty.jar" "$T_DIR/empty-signed.jar")
ok $? "an empty JAR is signed ($r)"
jverify "$T_DIR/empty-signed.jar" >"$T_DIR/empty.out"
ok $? "jarsigner -verify -strict accepts it"
like "$(cat "$T_DIR/empty.out")" "jar verified" "as a verified jar"

head -c 5000 /dev/urandom >"$T_DIR/not-a-zip.jar"
(cd "$S" && zip -q -fz "$T_DIR/zip64.jar" com/example/A.java)
for c in "not-a-zip.jar:not a ZIP archive" "truncated-cd.jar:truncated or inconsistent central directory" \
	"dotdot.jar:'\.\.' path component" "absolute.jar:absolute name" \
	"duplicate.jar:duplicate entry name 'a.txt'" "zip64.jar:ZIP64 archives are not supported" \
	"bomb-declared.jar:declares 3000000000 bytes.*zip bomb" "bomb-actual.jar:inflates past its declared size"; do
	f=${c%%:*} why=${c#*:}
	r=$(sign rsa "$T_DIR/$f" "$T_DIR/refused-$f")
	rc=$?
	[ $rc -ne 0 ] && [ ! -e "$T_DIR/refused-$f" ]
	ok $? "$f refused (exit $rc, no output)"
	like "$r" "$why" "$f: reason names the problem"
	is "$(printf '%s\n' "$r" | grep -c .)" 1 "$f: one line"
done

done_testing
