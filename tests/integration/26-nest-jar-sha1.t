#!/bin/bash
# JAR --nest onto a jar jarsigner signed with SHA-1 digests only (a keytool
# key, -digestalg SHA-1 -sigalg SHA1withRSA): JDK 17 counts a manifest
# digest only in an algorithm its policy allows, so csod adds its SHA-256
# digest to every section (keeping the SHA-1 ones) and its .SF covers the
# manifest and sections as they end up. Judged by jarsigner -verify
# -strict -verbose (both signers, no unsigned entry) and by digests
# recomputed here.
. "$(dirname "$0")/lib.sh"
command -v jarsigner >/dev/null || skip_all "jarsigner not installed"
PKI=$T_DIR/pki
make_pki "$PKI"
cd "$T_DIR"

mkdir -p src/com/example src/res
printf 'class A {}\n' >src/com/example/A.java
head -c 5000 /dev/urandom >src/res/blob.bin
printf 'hello\n' >src/readme.txt
(cd src && jar cf ../plain.jar .)
keytool -genkeypair -alias old -keyalg RSA -keysize 2048 -dname "CN=Old Signer" -validity 30 \
	-keystore old.p12 -storetype pkcs12 -storepass changeit >/dev/null 2>&1
jarsigner -keystore old.p12 -storepass changeit -digestalg SHA-1 -sigalg SHA1withRSA \
	-signedjar sha1.jar plain.jar old >/dev/null 2>&1
ok $? "jarsigner signs the jar with SHA-1 digests (signer OLD)"
mf=$(unzip -p sha1.jar META-INF/MANIFEST.MF)
like "$mf" "SHA-1-Digest: " "its manifest has SHA-1 digests"
echo "$mf" | grep -q "SHA-256-Digest"
ok $((!$?)) "and no SHA-256 ones"

keytool -importcert -noprompt -alias root -file "$PKI/root.pem" -keystore trust.p12 \
	-storetype pkcs12 -storepass changeit >/dev/null 2>&1
keytool -exportcert -rfc -alias old -keystore old.p12 -storepass changeit >old.pem 2>/dev/null
keytool -importcert -noprompt -alias old -file old.pem -keystore trust.p12 \
	-storetype pkcs12 -storepass changeit >/dev/null 2>&1
jverify() { jarsigner -verify -strict -verbose -keystore trust.p12 -storepass changeit "$1" 2>&1; }

out=$(run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" \
	--nest sha1.jar nested.jar 2>&1)
ok $? "csod-sign --nest onto it ${out:+: $out}"
v=$(jverify nested.jar)
is "$?" 0 "jarsigner -verify -strict accepts the nested jar (exit 0, not 16)"
like "$v" "jar verified\." "jar verified"
like "$v" 'Signed by "CN=Old Signer"' "the first signer is listed"
like "$v" 'Signed by "CN=Dagwood Bumstead' "and ours"
echo "$v" | grep -qi "unsigned entr"
ok $((!$?)) "no entry is unsigned"
for f in com/example/A.java res/blob.bin readme.txt; do
	like "$v" "smk +[0-9]+ .* $f" "$f is signed (smk)"
	check "$f is unchanged" sh -c "unzip -p nested.jar '$f' | cmp - 'src/$f'"
done

# The manifest and our .SF, recomputed independently.
/usr/bin/python3 - nested.jar sha1.jar <<'PY' >digests.out 2>&1
import base64, hashlib, re, sys, zipfile

def sections(raw):  # the manifest's sections as bytes, each with its blank line
    parts = re.split(rb"(?<=\r\n\r\n)", raw)
    return [p for p in parts if p]

def attrs(sec):  # "Name: value" pairs, continuation lines joined
    text = sec.decode().replace("\r\n ", "")
    return dict(l.split(": ", 1) for l in text.split("\r\n") if l)

b64 = lambda h: base64.b64encode(h).decode()
new, old = zipfile.ZipFile(sys.argv[1]), zipfile.ZipFile(sys.argv[2])
mf = new.read("META-INF/MANIFEST.MF")
old_sections = {attrs(s).get("Name"): attrs(s) for s in sections(old.read("META-INF/MANIFEST.MF"))}
named = [s for s in sections(mf) if attrs(s).get("Name")]
bad = []
for s in named:
    a = attrs(s)
    data = new.read(a["Name"])
    if a.get("SHA-256-Digest") != b64(hashlib.sha256(data).digest()):
        bad.append("SHA-256-Digest of " + a["Name"])
    if a.get("SHA-1-Digest") != old_sections[a["Name"]]["SHA-1-Digest"]:
        bad.append("SHA-1-Digest of " + a["Name"] + " not kept")
sf = new.read("META-INF/CSOD.SF")
sf_sections = [attrs(s) for s in sections(sf)]
if sf_sections[0].get("SHA-256-Digest-Manifest") != b64(hashlib.sha256(mf).digest()):
    bad.append("SHA-256-Digest-Manifest")
covered = {a["Name"]: a.get("SHA-256-Digest") for a in sf_sections[1:]}
for s in named:
    n = attrs(s)["Name"]
    if covered.get(n) != b64(hashlib.sha256(s).digest()):
        bad.append(".SF digest of section " + n)
print(len(named), "sections;", "bad: " + ", ".join(bad) if bad else "all digests right")
PY
is "$(cat digests.out)" "3 sections; all digests right" \
	"every section has our SHA-256 digest, keeps its SHA-1 one, and our .SF covers each"

# Where the earlier signer's digests are already SHA-256, nesting leaves its
# sections byte for byte (else its .SF section digests would break).
jarsigner -keystore old.p12 -storepass changeit -signedjar sha256.jar plain.jar old >/dev/null 2>&1
run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" \
	--nest --digest sha512 sha256.jar nested512.jar
ok $? "csod-sign --nest --digest sha512 beside a SHA-256 signer"
is "$(unzip -p nested512.jar META-INF/MANIFEST.MF | md5sum)" "$(unzip -p sha256.jar META-INF/MANIFEST.MF | md5sum)" \
	"its manifest is kept byte for byte"
v=$(jverify nested512.jar)
is "$?" 0 "and jarsigner -strict accepts both signers"
done_testing
