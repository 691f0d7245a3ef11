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
make_pki "$PKI"
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
# A second token with the same label, told apart by its serial (RFC 7512
# attributes as p11-kit reads them), and reached through the p11-kit proxy
# when the URI names no module (softhsm2 registers itself with p11-kit).
out=$(softhsm2-util --init-token --free --label csodtest --pin 1234 --so-pin 5678)
SLOT2=$(printf '%s\n' "$out" | sed -n 's/.*reassigned to slot \([0-9]*\).*/\1/p')
SERIAL2=$(softhsm2-util --show-slots | awk -v s="$SLOT2" '/^Slot /{cur=$2} cur==s && /Serial number:/{print $3; exit}')
like "$SERIAL2" "^[0-9a-f]+$" "a second token labelled csodtest (serial $SERIAL2)"
p12() { pkcs11-tool --module "$MODULE" --slot "$SLOT2" --login --pin 1234 "$@"; }
p12 --keypairgen --key-type rsa:2048 --label signer --id 01 --sensitive >/dev/null 2>&1
p12 --read-object --type pubkey --id 01 -o pub2.der >/dev/null 2>&1
openssl pkey -pubin -inform DER -in pub2.der -out pub2.pem
openssl x509 -req -in req.csr -force_pubkey pub2.pem -CA "$PKI/inter.pem" -CAkey "$PKI/inter.key" \
	-CAcreateserial -days 30 -extfile "$PKI/ext.cnf" -extensions leaf -out token2.pem 2>/dev/null
ok $? "a key and certificate on the second token"
Q="?module-path=$MODULE&pin-value=1234"
run_tool csod-sign --cert token2.pem --chain "$PKI/chain.pem" --key "pkcs11:token=csodtest;serial=$SERIAL2;object=signer$Q" \
	data.sha256 two.p7s
ok $? "csod-sign signs with token=csodtest;serial=<the second's>"
openssl cms -verify -binary -inform DER -in two.p7s -content data.bin -noverify -signer signer.crt \
	-out /dev/null 2>/dev/null
openssl x509 -in signer.crt -pubkey -noout >signer.pem
is "$(openssl pkey -pubin -in signer.pem -outform DER | sha256sum)" \
	"$(openssl pkey -pubin -in pub2.pem -outform DER | sha256sum)" "signed by the second token's key"
check "the signature verifies" openssl cms -verify -binary -inform DER -in two.p7s -content data.bin \
	-CAfile "$PKI/root.pem" -purpose any -out /dev/null
out=$(csod-sign --cert token.pem --key "pkcs11:token=csodtest;serial=$SERIAL2;object=signer$Q" data.sha256 bad.p7s 2>&1)
like "$out" "does not belong to" "the serial is not ignored (the first token's certificate does not fit)"
out=$(csod-sign --cert token.pem --key "pkcs11:token=csodtest;object=signer$Q" data.sha256 bad.p7s 2>&1)
is "$?" 1 "the same URI without serial is refused"
like "$out" "ambiguous: 2 tokens .*match it .*add serial= or slot-id=" "as ambiguous, naming the way out"
run_tool csod-sign --cert token2.pem --chain "$PKI/chain.pem" --key "pkcs11:slot-id=$SLOT2;object=signer$Q" data.sha256 slot.p7s
ok $? "slot-id= selects the second token too"
out=$(csod-sign --cert token.pem --key "pkcs11:token=csodtest;serail=$SERIAL2;object=signer$Q" data.sha256 bad.p7s 2>&1)
is "$?" 1 "a misspelt attribute is refused, not ignored"
like "$out" "not one p11-kit knows" "saying so"
run_tool csod-sign --cert token2.pem --chain "$PKI/chain.pem" --key "pkcs11:token=csodtest;serial=$SERIAL2;object=signer?pin-value=1234" \
	data.sha256 proxy.p7s
ok $? "without module-path the p11-kit proxy finds the token"
check "that signature verifies too" openssl cms -verify -binary -inform DER -in proxy.p7s -content data.bin \
	-CAfile "$PKI/root.pem" -purpose any -out /dev/null
done_testing
