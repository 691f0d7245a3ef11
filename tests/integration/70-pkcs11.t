#!/bin/bash
# Keys on a PKCS#11 token (SoftHSM2): generated there non-extractable, used
# by csod-sign through an RFC 7512 URI for hash and Authenticode signing.
. "$(dirname "$0")/lib.sh"
softhsm_token csodtest 1234 5678
ok $? "a SoftHSM2 token"
p11() { pkcs11-tool --module "$MODULE" --token-label csodtest --login --pin 1234 "$@"; }
p11 --keypairgen --key-type rsa:2048 --label signer --id 01 --sensitive >/dev/null 2>&1
ok $? "an RSA key generated on the token"
attrs=$(p11 --list-objects --type privkey 2>/dev/null)
like "$attrs" "never extractable" "the private key is never extractable"
like "$attrs" "sensitive" "and sensitive"

# A certificate for the token's public key, from the test CA.
PKI=$T_DIR/pki
sh "$CSOD_TOP/tests/fixtures/mkpki.sh" "$PKI"
p11 --read-object --type pubkey --id 01 -o "$T_DIR/pub.der" >/dev/null 2>&1
openssl pkey -pubin -inform DER -in "$T_DIR/pub.der" -out "$T_DIR/pub.pem"
openssl req -new -key "$PKI/other.key" -subj "/CN=token signer" -out "$T_DIR/req.csr" 2>/dev/null
openssl x509 -req -in "$T_DIR/req.csr" -force_pubkey "$T_DIR/pub.pem" -CA "$PKI/inter.pem" \
	-CAkey "$PKI/inter.key" -CAcreateserial -days 30 -extfile "$PKI/ext.cnf" -extensions leaf \
	-out "$T_DIR/token.pem" 2>/dev/null
ok $? "a code-signing certificate for the token key"

URI="pkcs11:token=csodtest;object=signer;type=private?module-path=$MODULE&pin-value=1234"
cd "$T_DIR"
head -c 4000 /dev/urandom >data.bin
sha256sum data.bin >data.sha256
run_tool csod-sign --cert token.pem --key "$URI" --chain "$PKI/chain.pem" data.sha256 data.p7s
ok $? "csod-sign signs a hash with the token key"
check "openssl cms verifies it" openssl cms -verify -binary -inform DER -in data.p7s -content data.bin \
	-CAfile "$PKI/root.pem" -purpose any -out /dev/null
echo 1234 >pin.txt
URI2="pkcs11:token=csodtest;object=signer?module-path=$MODULE&pin-source=file:$T_DIR/pin.txt"
if command -v x86_64-w64-mingw32-gcc >/dev/null; then
	printf 'int main(void){return 0;}\n' >m.c
	x86_64-w64-mingw32-gcc -o app.exe m.c
	run_tool csod-sign --cert token.pem --key "$URI2" --chain "$PKI/chain.pem" app.exe app-signed.exe
	ok $? "csod-sign signs a PE with the token key (PIN from pin-source)"
	check "osslsigncode verifies it" osslsigncode verify -CAfile "$PKI/root.pem" -in app-signed.exe
fi
if command -v apksigner >/dev/null && command -v zip >/dev/null; then
	# v2 and v3 are signed at once on two threads: the token must cope.
	mkdir -p apk && printf '<manifest/>\n' >apk/AndroidManifest.xml &&
		head -c 300000 /dev/urandom >apk/classes.dex && (cd apk && zip -q ../app.apk *)
	run_tool csod-sign --cert token.pem --key "$URI" --chain "$PKI/chain.pem" --min-sdk 21 \
		app.apk app-signed.apk
	ok $? "csod-sign signs an APK (v1, v2, v3) with the token key"
	out=$(apksigner verify -v --min-sdk-version 21 app-signed.apk 2>&1)
	like "$out" "Verified using v3 scheme \\(APK Signature Scheme v3\\): true" \
		"apksigner verifies its v3 signature"
	like "$out" "Verified using v2 scheme \\(APK Signature Scheme v2\\): true" "and v2"
	like "$out" "Verified using v1 scheme \\(JAR signing\\): true" "and v1"
fi
out=$(csod-sign --cert token.pem --key "${URI/pin-value=1234/pin-value=9999}" data.sha256 bad.p7s 2>&1)
is "$?" 1 "a wrong PIN fails"
like "$out" "login to token \"csodtest\" failed" "saying so"
out=$(csod-sign --cert token.pem --key "pkcs11:token=csodtest?module-path=/nonexistent.so&pin-value=1234" data.sha256 bad.p7s 2>&1)
is "$?" 1 "a module that does not load fails (no crash unloading it)"
like "$out" "cannot load the PKCS#11 module /nonexistent.so" "and is named"
out=$(csod-sign --cert "$PKI/rsa.pem" --key "$URI" data.sha256 bad.p7s 2>&1)
like "$out" "does not belong to" "a certificate for another key is refused"
attrs=$(p11 --list-objects --type privkey 2>/dev/null)
like "$attrs" "never extractable" "after all that the key is still never extractable"
done_testing
