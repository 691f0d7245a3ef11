#!/bin/bash
# Android App Bundles (.aab): what Google Play takes for uploads, signed
# with the upload key by JAR signing alone (as jarsigner signs it; no APK
# Signature Scheme v2/v3, no APK Signing Block). Signed by csod-sign and by
# csodd, judged by `jarsigner -verify -strict`. bundletool is not in
# Debian: the bundle is built here with zip in its published layout
# (BundleConfig.pb, base/manifest/AndroidManifest.xml, base/dex/...).
. "$(dirname "$0")/lib.sh"
for t in jarsigner keytool zip unzip; do
	command -v $t >/dev/null || skip_all "$t not installed"
done
P=$T_DIR/pki
make_pki "$P"
cd "$T_DIR"
keytool -importcert -noprompt -alias csodroot -file "$P/root.pem" -keystore trust.p12 \
	-storetype PKCS12 -storepass changeit >/dev/null 2>&1
jverify() { jarsigner -verify -strict -keystore "$1" -storepass changeit "$2" 2>&1; }

# A bundle's layout; the protocol buffers' content is not read by signing.
mkdir -p b/base/manifest b/base/dex b/base/res b/base/root b/BUNDLE-METADATA/com.android.tools.build.obfuscation
printf '\n\x05\n\x031.8' >b/BundleConfig.pb
printf '\n\x0fcom.dithers.app' >b/base/manifest/AndroidManifest.xml
head -c 20000 /dev/urandom >b/base/dex/classes.dex
head -c 3000 /dev/urandom >b/base/resources.pb
head -c 500 /dev/urandom >b/base/res/icon.png
head -c 200 /dev/urandom >b/BUNDLE-METADATA/com.android.tools.build.obfuscation/proguard.map
(cd b && zip -q -r "$T_DIR/app.aab" BundleConfig.pb base BUNDLE-METADATA) || fail "zip makes the bundle"

sign() { run_tool csod-sign --cert "$P/rsa.pem" --key "$P/rsa.key" --chain "$P/chain.pem" "$@" 2>&1; }

r=$(sign app.aab signed.aab)
ok $? "csod-sign signs an .aab by its name: $r"
v=$(jverify trust.p12 signed.aab)
ok $? "jarsigner -verify -strict accepts the signed bundle"
like "$v" "jar verified\." "jarsigner says jar verified"
is "$(unzip -Z1 signed.aab | grep '^META-INF/' | sort | tr '\n' ' ')" \
	"META-INF/CSOD.RSA META-INF/CSOD.SF META-INF/MANIFEST.MF " "JAR signature files only"
head -c 100000 signed.aab | grep -q "APK Sig Block 42"
ok $((!$?)) "no APK Signing Block (Play takes JAR-signed bundles)"

# Detached, for reproducible builds: the signer's files moved to a rebuild.
r=$(run_tool csod-sign --extract-signature signed.aab aab.sig 2>&1 &&
	run_tool csod-sign --attach-signature aab.sig --chain "$P/chain.pem" app.aab attached.aab 2>&1)
ok $? "extract and attach a bundle's signature: $r"
check "the attached bundle is the signed one, byte for byte" cmp signed.aab attached.aab
like "$(jverify trust.p12 attached.aab)" "jar verified\." "jarsigner -verify -strict accepts it"

# Named .aab but not a bundle: refused with the reason, before signing.
(cd b && zip -q -r "$T_DIR/nobundle.aab" base/dex)
r=$(sign nobundle.aab out.aab)
ok $((!$?)) "a ZIP without a bundle's layout is refused"
like "$r" "nobundle\.aab: not an Android App Bundle: no BundleConfig\.pb entry" "reason names the missing entry"
printf 'not a zip at all' >junk.aab
r=$(sign junk.aab out2.aab)
ok $((!$?)) "a non-ZIP .aab is refused"
like "$r" "junk\.aab: not an Android App Bundle" "reason names the file"

# Through the daemon: service android by the extension.
write_config
start_daemon || exit 1
mkdir drop
cp app.aab drop/
mv drop "$SPOOL/inbox/$DEV/bundle"
wait_state bundle signed 60
ok $? "csodd signs a dropped .aab"
out=$(request_dir bundle)
keytool -importcert -noprompt -alias csodca -file "$SPOOL/ca/ca.pem" -keystore ca.p12 \
	-storetype PKCS12 -storepass changeit >/dev/null 2>&1
like "$(jverify ca.p12 "$out/app.aab")" "jar verified\." "jarsigner -verify -strict accepts csodd's bundle"
like "$(cat "$out/request.json")" '"engine": "aab"' "request.json: the aab engine signed it"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
