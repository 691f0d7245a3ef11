#!/bin/bash
# Detached Authenticode signatures for reproducible builds: csod-sign
# --extract-signature takes a signed PE, CAB, MSI, catalog or script's PKCS#7 out (DER, as
# osslsigncode extract-signature writes it) and --attach-signature puts it
# into a byte-identical copy of the unsigned file: the result is the signed
# file again, byte for byte, and osslsigncode verify passes. Signatures
# move both ways between csod and osslsigncode; one attached to another
# file is refused with the reason, and nothing is written.
. "$(dirname "$0")/lib.sh"
for t in osslsigncode x86_64-w64-mingw32-gcc gcab wixl; do
	command -v $t >/dev/null || skip_all "$t not installed"
done
P=$T_DIR/pki
make_pki "$P"
cd "$T_DIR"

# --- inputs, made now ---
MKCAT="/usr/bin/python3 $CSOD_TOP/tests/fixtures/mkcat.py"
printf 'int main(void) { return 0; }\n' >a.c
printf 'int main(void) { return 1; }\n' >b.c
x86_64-w64-mingw32-gcc -o app.exe a.c && x86_64-w64-mingw32-gcc -o other.exe b.c || fail "mingw builds the PEs"
echo "hello from csod" >readme.txt
head -c 70000 /dev/urandom >data.bin
gcab -c -z app.cab readme.txt data.bin && gcab -c other.cab readme.txt || fail "gcab builds the cabinets"
# Product Id="*": each build has its own GUIDs, so the two differ.
. "$CSOD_TOP/tests/integration/helpers/make_msi.sh"
make_msi app.msi readme.txt data.bin && make_msi other.msi readme.txt data.bin || fail "wixl builds the installers"

printf 'Write-Host "hello"\r\n' >app.ps1
printf 'Write-Host "other"\r\n' >other.ps1
printf 'WScript.Echo "hi"\r\n' >app.vbs
# Security catalogs: the same member names, one member's content (so its
# hash in the trust list) differs in the other.
printf 'MZ driver image\n' >driver.sys && printf 'helper\n' >helper.dll
$MKCAT app.cat driver.sys helper.dll || fail "mkcat.py builds the catalog"
printf 'MZ driver image, patched\n' >driver.sys
$MKCAT other.cat driver.sys helper.dll || fail "mkcat.py builds the other catalog"

sign() { run_tool csod-sign --cert "$P/rsa.pem" --key "$P/rsa.key" --chain "$P/chain.pem" "$@" 2>&1; }
cs() { run_tool csod-sign "$@" 2>&1; }
verify() { osslsigncode verify -CAfile "$P/root.pem" -in "$1" 2>&1; }

for x in exe cab msi ps1; do
	r=$(sign app.$x signed.$x)
	ok $? "$x: csod-sign signs it: $r"
	r=$(cs --extract-signature signed.$x $x.sig)
	ok $? "$x: --extract-signature: $r"
	check "$x: the extracted signature is a DER PKCS#7" openssl pkcs7 -inform DER -in $x.sig -noout
	osslsigncode extract-signature -in signed.$x -out ossl-$x.sig >/dev/null 2>&1
	check "$x: the same bytes as osslsigncode extract-signature gives" cmp $x.sig ossl-$x.sig

	# The reproducible build: the same unsigned bytes, built again.
	cp app.$x rebuilt.$x
	r=$(cs --attach-signature $x.sig --chain "$P/chain.pem" rebuilt.$x attached.$x)
	ok $? "$x: --attach-signature on the rebuilt file: $r"
	like "$(verify attached.$x)" "Succeeded" "$x: osslsigncode verify accepts the attached result"
	check "$x: the attached file is the signed file, byte for byte" cmp signed.$x attached.$x

	# Ours to osslsigncode's attach-signature, and theirs to ours.
	v=$(osslsigncode attach-signature -sigin $x.sig -CAfile "$P/root.pem" -in app.$x -out ossl-attached.$x 2>&1)
	like "$v" "Succeeded" "$x: osslsigncode attach-signature takes csod's signature"
	osslsigncode sign -certs "$P/rsa.pem" -ac "$P/chain.pem" -key "$P/rsa.key" -h sha256 \
		-in app.$x -out ossl-signed.$x >/dev/null 2>&1 || fail "$x: osslsigncode signs"
	osslsigncode extract-signature -pem -in ossl-signed.$x -out ossl-$x.pem >/dev/null 2>&1
	r=$(cs --attach-signature ossl-$x.pem --chain "$P/chain.pem" app.$x from-ossl.$x)
	ok $? "$x: csod-sign attaches osslsigncode's signature (PEM): $r"
	like "$(verify from-ossl.$x)" "Succeeded" "$x: osslsigncode verify accepts it"

	# A signature made for another file: refused, with the reason; no output.
	r=$(cs --attach-signature $x.sig --chain "$P/chain.pem" other.$x wrong.$x)
	ok $((!$?)) "$x: a signature for another file is refused"
	like "$r" "other\.$x: the signature in $x\.sig does not verify on it: .*(does not match|differ).*" \
		"$x: the reason names the file and the mismatch ($r)"
	[ ! -e wrong.$x ]
	ok $? "$x: nothing is written"
done

# Security catalogs: the signature is the whole signed catalog (the bytes
# osslsigncode extract-signature gives; its attach-signature does not take
# catalogs). Attaching checks that it signs the rebuilt catalog's trust
# list byte for byte, then writes it.
sign app.cat signed.cat >/dev/null
r=$(cs --extract-signature signed.cat cat.sig)
ok $? "cat: --extract-signature: $r"
osslsigncode extract-signature -in signed.cat -out ossl-cat.sig >/dev/null 2>&1
check "cat: the same bytes as osslsigncode extract-signature gives" cmp cat.sig ossl-cat.sig
cp app.cat rebuilt.cat
r=$(cs --attach-signature cat.sig --chain "$P/chain.pem" rebuilt.cat attached.cat)
ok $? "cat: --attach-signature on the rebuilt catalog: $r"
like "$(verify attached.cat)" "Succeeded" "cat: osslsigncode verify accepts the attached result"
check "cat: the attached catalog is the signed one, byte for byte" cmp signed.cat attached.cat
osslsigncode sign -certs "$P/rsa.pem" -ac "$P/chain.pem" -key "$P/rsa.key" -h sha256 \
	-in app.cat -out ossl-signed.cat >/dev/null 2>&1 || fail "cat: osslsigncode signs"
osslsigncode extract-signature -pem -in ossl-signed.cat -out ossl-cat.pem >/dev/null 2>&1
r=$(cs --attach-signature ossl-cat.pem --chain "$P/chain.pem" app.cat from-ossl.cat)
ok $? "cat: csod-sign attaches osslsigncode's catalog signature (PEM): $r"
like "$(verify from-ossl.cat)" "Succeeded" "cat: osslsigncode verify accepts it"
r=$(cs --attach-signature cat.sig --chain "$P/chain.pem" other.cat wrong.cat)
ok $((!$?)) "cat: a signature for a catalog with another member hash is refused"
like "$r" "other\.cat: cannot attach cat\.sig: it signs another catalog" \
	"cat: the reason names the file and the mismatch ($r)"
r=$(cs --attach-signature exe.sig --chain "$P/chain.pem" app.cat wrong.cat)
ok $((!$?)) "cat: a PE's signature is refused for a catalog"
like "$r" "app\.cat: cannot attach exe\.sig: not a catalog signature" "cat: reason: not a catalog signature ($r)"
r=$(cs --extract-signature app.cat x.sig)
like "$r" "app\.cat: the catalog is not signed" "cat: extract from an unsigned catalog: reason"
[ ! -e wrong.cat ] && [ ! -e x.sig ]
ok $? "cat: nothing is written when refused"

# VBScript (osslsigncode 2.9 cannot read it): csod's own round trip.
sign app.vbs signed.vbs >/dev/null
r=$(cs --extract-signature signed.vbs vbs.sig && cs --attach-signature vbs.sig --chain "$P/chain.pem" app.vbs attached.vbs)
ok $? "vbs: extract and attach: $r"
check "vbs: the attached script is the signed one, byte for byte" cmp signed.vbs attached.vbs

# JAR (and app bundles): the detached form is a small ZIP of the signer's
# three files (MANIFEST.MF, .SF, block), judged by jarsigner -verify -strict.
if command -v jarsigner >/dev/null && command -v keytool >/dev/null; then
	keytool -importcert -noprompt -alias csodroot -file "$P/root.pem" -keystore trust.p12 \
		-storetype pkcs12 -storepass changeit >/dev/null 2>&1
	jverify() { jarsigner -verify -strict -keystore trust.p12 -storepass changeit "$1" 2>&1; }
	mkdir -p j && printf 'x' >j/x.txt && head -c 3000 /dev/urandom >j/y.bin
	(cd j && zip -q ../app.jar x.txt y.bin) && cp app.jar app.war
	printf 'y' >j/x.txt && (cd j && zip -q ../other.jar x.txt y.bin)
	for x in jar war; do
		sign app.$x signed.$x >/dev/null
		r=$(cs --extract-signature signed.$x $x.sig)
		ok $? "$x: --extract-signature: $r"
		is "$(unzip -Z1 $x.sig | tr '\n' ' ')" "META-INF/MANIFEST.MF META-INF/CSOD.SF META-INF/CSOD.RSA " \
			"$x: the detached signature holds the signer's three files"
		cp app.$x rebuilt.$x
		r=$(cs --attach-signature $x.sig --chain "$P/chain.pem" rebuilt.$x attached.$x)
		ok $? "$x: --attach-signature: $r"
		check "$x: the attached archive is the signed one, byte for byte" cmp signed.$x attached.$x
		like "$(jverify attached.$x)" "jar verified\." "$x: jarsigner -verify -strict accepts it"
	done
	r=$(cs --attach-signature jar.sig --chain "$P/chain.pem" other.jar wrong.jar)
	ok $((!$?)) "jar: a signature for another archive is refused"
	like "$r" "other\.jar: the signature in jar\.sig does not verify on it: entry 'x\.txt' does not match its manifest digest" \
		"jar: the reason names the entry"
	# A signature jarsigner made moves to a rebuild as well.
	openssl pkcs12 -export -in "$P/rsa.pem" -inkey "$P/rsa.key" -certfile "$P/chain.pem" -name dev \
		-out dev.p12 -passout pass:changeit
	cp app.jar js.jar && jarsigner -keystore dev.p12 -storepass changeit js.jar dev >/dev/null 2>&1
	r=$(cs --extract-signature js.jar js.sig && cs --attach-signature js.sig --chain "$P/chain.pem" app.jar js-attached.jar)
	ok $? "jar: jarsigner's signature extracted and attached: $r"
	like "$(jverify js-attached.jar)" "jar verified\." "jar: jarsigner -verify -strict accepts it"
	# Two signers: a detached signature carries one.
	jarsigner -keystore dev.p12 -storepass changeit -sigfile TWO signed.jar dev >/dev/null 2>&1
	r=$(cs --extract-signature signed.jar two.sig)
	like "$r" "signed\.jar: more than one signer" "jar: two signers are refused with the reason"
else
	skip_note="jarsigner not installed"
	diag "JAR part skipped: $skip_note"
fi

# MSI signed over MsiDigitalSignatureEx (the metadata pre-hash): the
# detached signature is the DigitalSignature stream alone, and attaching
# makes the pre-hash anew when the signature covers it.
r=$(sign app.msi dse.msi --msi-dse)
ok $? "msi: signed with MsiDigitalSignatureEx: $r"
cs --extract-signature dse.msi dse.sig >/dev/null
r=$(cs --attach-signature dse.sig --chain "$P/chain.pem" app.msi dse-attached.msi)
ok $? "msi: a signature over the pre-hash attaches: $r"
check "msi: the result is the signed file (with its MsiDigitalSignatureEx), byte for byte" cmp dse.msi dse-attached.msi
like "$(verify dse-attached.msi)" "Succeeded" "msi: osslsigncode verify accepts it"
osslsigncode sign -certs "$P/rsa.pem" -ac "$P/chain.pem" -key "$P/rsa.key" -h sha256 -add-msi-dse \
	-in app.msi -out ossl-dse.msi >/dev/null 2>&1 || fail "osslsigncode signs with -add-msi-dse"
osslsigncode extract-signature -in ossl-dse.msi -out ossl-dse.sig >/dev/null 2>&1
r=$(cs --attach-signature ossl-dse.sig --chain "$P/chain.pem" app.msi from-ossl-dse.msi)
ok $? "msi: osslsigncode's -add-msi-dse signature attaches: $r"
like "$(verify from-ossl-dse.msi)" "Succeeded" "msi: osslsigncode verify accepts it"

# Attaching to a signed file replaces its signature, as signing does.
r=$(cs --attach-signature exe.sig --chain "$P/chain.pem" ossl-signed.exe resigned.exe)
ok $? "attach to a signed PE replaces its signature: $r"
check "the result is csod's signed PE, byte for byte" cmp signed.exe resigned.exe

# Bad inputs: each refused with a one-line reason naming the file.
r=$(cs --extract-signature app.exe x.sig)
ok $((!$?)) "extract from an unsigned PE is refused"
like "$r" "app\.exe: the file is not signed" "reason: not signed"
r=$(cs --extract-signature app.cab x.sig)
like "$r" "app\.cab: the cabinet is not signed" "unsigned CAB: reason"
r=$(cs --extract-signature app.msi x.sig)
like "$r" "app\.msi: the file is not signed" "unsigned MSI: reason"
printf "not a signature at all\n" >junk.sig
r=$(cs --attach-signature junk.sig --chain "$P/chain.pem" app.exe x.exe)
ok $((!$?)) "a signature file that is not PKCS#7 is refused"
like "$r" "app\.exe: cannot attach junk\.sig: not a DER-encoded PKCS#7 signature" "reason: not PKCS#7"
cat exe.sig exe.sig >double.sig
r=$(cs --attach-signature double.sig --chain "$P/chain.pem" app.exe x.exe)
like "$r" "bytes follow the PKCS#7 signature" "trailing bytes after the signature are refused"
r=$(cs --attach-signature exe.sig app.exe x.exe)
is "$?" 2 "attach without a trust anchor (--cert/--chain) is a usage error"
r=$(cs --attach-signature exe.sig --no-verify other.exe unchecked.exe)
ok $? "--no-verify attaches without the self-check"
like "$(verify unchecked.exe)" "MISMATCH|[Ff]ailed" "... and osslsigncode then rejects the mismatch"
printf 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n' >app.sha256
r=$(cs --extract-signature app.sha256 x.sig)
like "$r" "app\.sha256: detached signatures are not supported for hash files" "hash files: not supported, said so"
[ ! -e x.sig ] && [ ! -e x.exe ]
ok $? "no output from any refused command"

# --- csodd: request.conf detached = true publishes <name>.sig beside each
# signed file; attached to the unsigned original it gives the signed file.
write_config
start_daemon || exit 1
mkdir drop
cp app.exe app.cab app.msi app.ps1 app.cat drop/
printf 'detached = true;\n' >drop/request.conf
mv drop "$SPOOL/inbox/$DEV/release"
wait_state release signed 60
ok $? "csodd signs a drop with detached = true"
out=$(request_dir release)
for x in exe cab msi ps1 cat; do
	[ -s "$out/app.$x.sig" ]
	ok $? "$x: the outbox holds app.$x.sig beside app.$x"
	r=$(cs --attach-signature "$out/app.$x.sig" --chain "$SPOOL/ca/ca.pem" app.$x daemon-attached.$x)
	ok $? "$x: csodd's detached signature attaches to the unsigned file: $r"
	check "$x: ... giving csodd's signed file, byte for byte" cmp "$out/app.$x" daemon-attached.$x
	like "$(osslsigncode verify -CAfile "$SPOOL/ca/ca.pem" -in daemon-attached.$x 2>&1)" "Succeeded" \
		"$x: osslsigncode verify accepts it"
done
like "$(cat "$out/request.json")" '"app\.exe\.sig"' "request.json names the detached signatures"
# The developer's status page links each output on its own.
wait_for 10 grep -q 'app\.exe\.sig</a>' "$SPOOL/outbox/$DEV/index.html"
ok $? "the status page links app.exe.sig"
like "$(cat "$SPOOL/outbox/$DEV/index.html")" '/app\.exe">app\.exe</a><br><a href="[^"]*/app\.exe\.sig">' \
	"... beside app.exe, each a link of its own"
# A file with no detached form: refused at intake, before approval.
mkdir drop2
cp app.sha256 drop2/
printf 'detached = true;\n' >drop2/request.conf
mv drop2 "$SPOOL/inbox/$DEV/hashes"
wait_state hashes failed 60
ok $? "detached = true with a hash file fails"
like "$(cat "$(request_dir hashes)/ERROR")" "app\.sha256: detached = true, but hash files have no detached signature" \
	"ERROR names the file and the reason"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
