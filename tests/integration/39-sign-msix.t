#!/bin/bash
# Authenticode for MSIX/APPX packages made at test time (Debian has no
# makeappx): tests/fixtures/mkmsix.py writes a manifest, a block map and
# the content types, `zip` packs them. Judged by osslsigncode verify and
# compared with osslsigncode's own signature of the same package; the
# manifest's publisher must be the certificate's subject; bundles;
# tampering;
# options a package cannot take; then through the daemon, dropped by a
# real Unix user.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
PKI=$T_DIR/pki
make_pki "$PKI"
MKMSIX="/usr/bin/python3 $CSOD_TOP/tests/fixtures/mkmsix.py"
SUBJECT="CN=Dagwood Bumstead, OU=Software Development, O=Dithers Construction Company, C=US"
cd "$T_DIR"

# package OUT PUBLISHER [zip options]: a package of three files, one over
# several 64 KiB blocks and one in a folder.
package() {
	local out=$1 pub=$2
	shift 2
	rm -rf "parts-$out"
	$MKMSIX "parts-$out" "$pub" ${LFH_EXTRA:+--lfh-extra $LFH_EXTRA} app.bin=200000 \
		Assets/logo.bin=100 data.bin=0 || return 1
	(cd "parts-$out" && zip -q -D "$@" "$T_DIR/$out" app.bin Assets/logo.bin data.bin \
		AppxManifest.xml AppxBlockMap.xml '[Content_Types].xml')
}
sign() { # sign IN OUT [more csod-sign options]
	local in=$1 out=$2
	shift 2
	run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" "$@" "$in" "$out"
}
verify() { osslsigncode verify -CAfile "$PKI/root.pem" -in "$1" >"$T_DIR/verify.out" 2>&1; }
entry() { unzip -p "$1" "$(printf '%s' "$2" | sed 's/[][]/\\&/g')"; }
names() { unzip -Z1 "$1" | tr '\n' ' '; }
# refused IN REASON DESCRIPTION [options]: csod-sign refuses, saying REASON.
refused() {
	local in=$1 why=$2 what=$3
	shift 3
	rm -f refused.out
	sign "$in" refused.out "$@" 2>refused.err
	[ $? -ne 0 ] && [ ! -s refused.out ]
	ok $? "$what: refused"
	like "$(cat refused.err)" "$why" "$what: the reason is given"
}

# 1. A stored package: osslsigncode verifies ours, and every hash it
# recomputes (block map, content types, data, central directory) matches.
package app.msix "$SUBJECT" -X -0 || exit 1
sign app.msix signed.msix
ok $? "a package is signed"
verify signed.msix
ok $? "osslsigncode verifies the signed package"
is "$(grep -c '^Current message digest' verify.out)" 4 "it compares four package hashes"
is "$(grep '^Current message digest' verify.out | awk '{print $NF}' | sort)" \
	"$(grep '^Calculated message digest' verify.out | awk '{print $NF}' | sort)" \
	"and each is the signed one"
is "$(names signed.msix)" "$(names app.msix)AppxSignature.p7x " \
	"the entries are the input's, in order, with AppxSignature.p7x last"
is "$(entry signed.msix AppxSignature.p7x | head -c 4)" PKCX "AppxSignature.p7x starts PKCX"
like "$(entry signed.msix '[Content_Types].xml')" \
	'<Override PartName="/AppxSignature.p7x" ContentType="application/vnd.ms-appx.signature"/></Types>$' \
	"[Content_Types].xml gains the signature's content type"
for f in app.bin Assets/logo.bin AppxManifest.xml AppxBlockMap.xml; do
	cmp -s <(entry app.msix "$f") <(entry signed.msix "$f")
	ok $? "$f is unchanged"
done
entry signed.msix AppxSignature.p7x | tail -c +5 | openssl pkcs7 -inform DER -print 2>/dev/null |
	grep -q '1.3.6.1.4.1.311.2.1.30'
ok $? "the SpcIndirectDataContent names SpcSipInfo"
entry signed.msix AppxSignature.p7x | tail -c +5 | openssl asn1parse -inform DER 2>/dev/null |
	grep -qi '4BDFC50A07CEE24DB76E23C839A09FD1'
ok $? "with the APPX SIP's GUID"

# 2. The same package signed by osslsigncode: the same entries, the same
# content types (osslsigncode 2.9 deflates it under a 'stored' header, so
# it is inflated here by hand).
osslsigncode sign -certs "$PKI/rsa.pem" -key "$PKI/rsa.key" -ac "$PKI/chain.pem" \
	-in app.msix -out theirs.msix >/dev/null 2>&1
ok $? "osslsigncode signs the same package"
is "$(names theirs.msix)" "$(names signed.msix)" "its entries are ours"
theirs_ct=$(/usr/bin/python3 - theirs.msix <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
i = 0
while True:
    i = d.index(b"PK\x03\x04", i)
    n, x = struct.unpack("<HH", d[i + 26:i + 30])
    if d[i + 30:i + 30 + n] == b"[Content_Types].xml":
        c = struct.unpack("<I", d[i + 18:i + 22])[0]
        raw = d[i + 30 + n + x:i + 30 + n + x + c]
        try:
            raw = zlib.decompress(raw, -15)
        except zlib.error:
            pass
        sys.stdout.write(raw.decode())
        break
    i += 4
PY
)
is "$theirs_ct" "$(entry signed.msix '[Content_Types].xml')" "its [Content_Types].xml is ours"
verify theirs.msix
ok $? "osslsigncode verifies its own"

# 3. Local extra fields (zip's default: timestamps, uid/gid) are kept,
# since the block map counts them; a deflated package; ZIP64.
LFH_EXTRA=28 package extra.msix "$SUBJECT" -6 || exit 1
sign extra.msix signed-extra.msix
ok $? "a deflated package with extra fields is signed"
verify signed-extra.msix
ok $? "osslsigncode verifies it"

# ZIP64, as makeappx and the MSIX SDK write every package (data
# descriptors, ZIP64 directory records and end record): taken, and written
# back as a plain ZIP.
/usr/bin/python3 "$CSOD_TOP/tests/fixtures/zip64ify.py" app.msix zip64.msix
zipinfo -v zip64.msix | grep -q 'PKWARE 64-bit sizes'
ok $? "the ZIP64 package has ZIP64 fields"
sign zip64.msix signed-zip64.msix
ok $? "a ZIP64 package is signed"
verify signed-zip64.msix
ok $? "osslsigncode verifies it"
cmp -s <(entry app.msix app.bin) <(entry signed-zip64.msix app.bin)
ok $? "its files are unchanged"
zipinfo -v signed-zip64.msix | grep -q 'PKWARE 64-bit sizes'
[ $? -ne 0 ]
ok $? "the signed package is a plain ZIP"
cp zip64.msix zip64.jar
run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" zip64.jar zip64-signed.jar 2>refused.err
[ $? -ne 0 ]
ok $? "a ZIP64 archive is still refused as a JAR"
like "$(cat refused.err)" "ZIP64 archives are not supported" "saying so"

# A timestamp from the loopback TSA.
start_loopback_tsa || exit 1
sign app.msix stamped.msix --timestamp-ca "$TSA/tsaroot.pem" --timestamp "$TSA_URL"
ok $? "a package signed with a timestamp"
osslsigncode verify -CAfile "$PKI/root.pem" -TSA-CAfile "$TSA/tsaroot.pem" -in stamped.msix >verify.out 2>&1
ok $? "osslsigncode verifies it"
like "$(cat verify.out)" "Timestamp Server Signature verification: ok" "including the timestamp"
stop_loopback_tsa
trap cleanup EXIT

# 4. Re-signing a signed package replaces the signature, once.
sign signed.msix resigned.msix
ok $? "a signed package is signed again"
verify resigned.msix
ok $? "osslsigncode verifies it"
is "$(entry resigned.msix '[Content_Types].xml' | grep -o AppxSignature.p7x | wc -l)" 1 \
	"the content type is not added twice"
is "$(names resigned.msix)" "$(names signed.msix)" "one AppxSignature.p7x, last"
cp app.msix app.appx
sign app.appx signed.appx
ok $? "an .appx is signed"
verify signed.appx
ok $? "osslsigncode verifies it"

# 5. A bundle of the signed package: the bundle SIP, its manifest's
# publisher.
bundle() { # bundle OUT PUBLISHER
	rm -rf "parts-$1"
	$MKMSIX --bundle "parts-$1" "$2" app.msix=@signed.msix || return 1
	(cd "parts-$1" && zip -q -X -0 -D "$T_DIR/$1" app.msix AppxMetadata/AppxBundleManifest.xml \
		AppxBlockMap.xml '[Content_Types].xml')
}
bundle app.msixbundle "$SUBJECT" || exit 1
sign app.msixbundle signed.msixbundle
ok $? "a bundle is signed"
verify signed.msixbundle
ok $? "osslsigncode verifies the signed bundle"
is "$(names signed.msixbundle)" "$(names app.msixbundle)AppxSignature.p7x " \
	"the bundle's entries, with AppxSignature.p7x last"
entry signed.msixbundle AppxSignature.p7x | tail -c +5 | openssl asn1parse -inform DER 2>/dev/null |
	grep -qi 'B3585F0FDEAA9A4BA43495742D92ECEB'
ok $? "with the bundle SIP's GUID"
cmp -s signed.msix <(entry signed.msixbundle app.msix)
ok $? "the package inside is unchanged"
cp app.msixbundle app.appxbundle
sign app.appxbundle signed.appxbundle
ok $? "an .appxbundle is signed"
bundle other.msixbundle "CN=Someone Else" || exit 1
refused other.msixbundle "AppxBundleManifest.xml's publisher \"CN=Someone Else\" is not the signing certificate's subject" \
	"a bundle whose publisher is not the certificate's subject"

# 6. Tampering: a changed file and a changed block map fail.
/usr/bin/python3 - signed.msix tampered.msix <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[30 + len("app.bin") + 1000] ^= 1  # a byte of app.bin (stored, first entry)
open(sys.argv[2], "wb").write(d)
PY
verify tampered.msix
[ $? -ne 0 ]
ok $? "osslsigncode refuses a package with a changed file"
like "$(cat verify.out)" "Calculated message digest" "after recomputing its hashes"
mkdir -p t && (cd t && unzip -q ../signed.msix && sed -i 's/LfhSize="37"/LfhSize="38"/' AppxBlockMap.xml &&
	rm -f ../bm.msix && zip -q -X -0 -D ../bm.msix app.bin Assets/logo.bin data.bin AppxManifest.xml \
		AppxBlockMap.xml '[Content_Types].xml' AppxSignature.p7x)
verify bm.msix
[ $? -ne 0 ]
ok $? "osslsigncode refuses a package whose block map changed"

# 7. What a package cannot take.
package other.msix "CN=Someone Else, O=Elsewhere, C=US" -X -0
refused other.msix "publisher \"CN=Someone Else, O=Elsewhere, C=US\" is not the signing certificate's subject \"$SUBJECT\"" \
	"a package whose publisher is not the certificate's subject"
package spaced.msix "CN = Dagwood Bumstead,OU=Software Development,  O=\"Dithers Construction Company\", C=US" -X -0
sign spaced.msix signed-spaced.msix
ok $? "a publisher spelt with other spaces and quotes is the same name"
refused app.msix "block map uses SHA256: it must be signed with that" "--digest sha384" --digest sha384
refused app.msix "carries one signature" "two digests" --digest sha256 --digest sha384
refused signed.msix "carries one signature" "--nest" --nest
rm -rf nobm && mkdir nobm && (cd nobm && unzip -q ../app.msix && rm AppxBlockMap.xml && zip -q -X -0 ../nobm.msix *)
refused nobm.msix "no AppxBlockMap.xml" "a package without a block map"
rm -rf bundle && mkdir -p bundle/AppxMetadata && (cd bundle && unzip -q ../app.msix &&
	echo '<Bundle/>' >AppxMetadata/AppxBundleManifest.xml && zip -q -X -0 -r ../bundle.msix .)
refused bundle.msix "both AppxManifest.xml and AppxMetadata/AppxBundleManifest.xml" \
	"a package that is also a bundle"
# The block map must match the files, as Windows checks when it installs.
rm -rf parts-badblock && $MKMSIX parts-badblock "$SUBJECT" app.bin=200000 >/dev/null &&
	printf 'X' | dd of=parts-badblock/app.bin bs=1 seek=70000 conv=notrunc 2>/dev/null &&
	(cd parts-badblock && zip -q -X -0 -D ../badblock.msix app.bin AppxManifest.xml AppxBlockMap.xml '[Content_Types].xml')
refused badblock.msix "AppxBlockMap.xml does not match the package: app.bin does not match its block hashes" \
	"a package whose file differs from its block map"
cp app.msix unlisted.msix && printf 'x' >extra.bin && zip -q -X -0 unlisted.msix extra.bin
refused unlisted.msix "AppxBlockMap.xml does not match the package: it does not list extra.bin" \
	"a package with a file its block map does not list"
rm -rf parts-lfh && $MKMSIX parts-lfh "$SUBJECT" app.bin=10 >/dev/null &&
	(cd parts-lfh && zip -q -0 -D ../lfh.msix app.bin AppxManifest.xml AppxBlockMap.xml '[Content_Types].xml')
refused lfh.msix "it gives app.bin a local header of 37 bytes, the file's has 65" \
	"a package whose local headers are not the block map's size"
printf 'not a zip' >junk.msix
refused junk.msix "junk.msix" "a .msix that is no ZIP"

# 8. Through the daemon, dropped by a real Unix user, auto-approved: the
# local CA's certificate for dagwood names him with his e-mail address.
DEV_SUBJECT="E=dagwood@dithercons.com, CN=Dagwood Bumstead, OU=Software Development, O=Dithers Construction Company"
package daemon.msix "$DEV_SUBJECT" -X -0 || exit 1
package wrong.msix "$SUBJECT" -X -0 || exit 1
U=csodt-msix$$
useradd -M -N -s /usr/sbin/nologin "$U" || exit 1
trap 'userdel "$U" 2>/dev/null; cleanup' EXIT
DEV=$U
chmod 755 "$T_DIR"
chmod 644 "$T_DIR"/*.msix
write_config
start_daemon || exit 1
drop() { runuser -u "$DEV" -- sh -c "cp '$T_DIR/$1' '$SPOOL/inbox/$DEV/.$2.tmp' && mv '$SPOOL/inbox/$DEV/.$2.tmp' '$SPOOL/inbox/$DEV/$2'"; }
drop daemon.msix app.msix
drop wrong.msix wrong.msix
drop junk.msix junk.msix
drop badblock.msix badblock.msix
drop app.msixbundle app.msixbundle
wait_state app.msix signed 60
ok $? "a dropped .msix is signed by csodd"
osslsigncode verify -CAfile "$SPOOL/ca/ca.pem" -in "$(request_dir app.msix)/app.msix" >verify.out 2>&1
ok $? "osslsigncode verifies the daemon's package against the local CA"
like "$(cat "$(request_dir app.msix)/request.json")" '"engine": "appx"' "request.json names the appx engine"
wait_state app.msixbundle failed 60
ok $? "a bundle whose publisher is not the developer's certificate fails"
wait_state wrong.msix failed 60
ok $? "a package whose publisher is not the developer's certificate fails"
like "$(cat "$(request_dir wrong.msix)/ERROR" 2>/dev/null)" "wrong.msix.*publisher .* is not the signing certificate's subject" \
	"and ERROR says why"
wait_state badblock.msix failed 60
ok $? "a package whose block map does not match fails"
like "$(cat "$(request_dir badblock.msix)/ERROR" 2>/dev/null)" "badblock.msix: AppxBlockMap.xml does not match the package" \
	"and ERROR says why"
wait_state junk.msix failed 60
ok $? "a .msix that is no ZIP fails"
like "$(cat "$(request_dir junk.msix)/ERROR" 2>/dev/null)" "junk.msix" "and ERROR names it"
check "csodd keeps running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
