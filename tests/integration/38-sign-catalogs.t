#!/bin/bash
# Authenticode for Windows security catalogs (.cat), made at test time from
# the CTL structure (tests/fixtures/mkcat.py: an unsigned SignedData around
# a certificate trust list naming files by SHA-1) and judged by osslsigncode
# verify: signing, re-signing, --nest, several digests, a timestamp,
# osslsigncode's own catalog signature accepted for --nest, a changed member
# hash, bad inputs; then through the daemon, dropped by a real Unix user.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
PKI=$T_DIR/pki
make_pki "$PKI"
MKCAT="/usr/bin/python3 $CSOD_TOP/tests/fixtures/mkcat.py"
cd "$T_DIR"

# The driver package's files and its unsigned catalog.
printf 'MZ driver image\n' >driver.sys
printf '[Version]\r\nSignature="$WINDOWS NT$"\r\n' >driver.inf
printf 'helper library\n' >helper.dll
$MKCAT driver.cat driver.sys driver.inf helper.dll
ok $? "an unsigned catalog made from the CTL structure"
osslsigncode verify -CAfile "$PKI/root.pem" -in driver.cat >verify.out 2>&1
like "$(cat verify.out)" "No signature found|Failed" "osslsigncode sees no signature in it"

sign() { # sign IN OUT [more csod-sign options]
	local in=$1 out=$2
	shift 2
	run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" "$@" "$in" "$out"
}
verify() { osslsigncode verify -CAfile "$PKI/root.pem" -in "$1" -verbose >"$T_DIR/verify.out" 2>&1; }
nsig() { grep -o 'Number of verified signatures: [0-9]*' "$T_DIR/verify.out" | grep -o '[0-9]*$'; }
# The SHA-256 of a catalog's CTL (the signed content): the contents of the
# [0] after the first szOID_CTL, the SignedData's content type.
ctl_of() {
	local at
	at=$(openssl asn1parse -inform DER -in "$1" | grep -m1 -A1 ':1.3.6.1.4.1.311.10.1$' | sed -n 2p | cut -d: -f1)
	[ -n "$at" ] && openssl asn1parse -inform DER -in "$1" -strparse "$at" -noout -out "$T_DIR/ctl.der" &&
		sha256sum <"$T_DIR/ctl.der" | cut -d' ' -f1
}

# 1. An unsigned catalog signed: osslsigncode verifies it and lists its members.
sign driver.cat signed.cat --description "Example driver" --url https://example.com/
ok $? "csod-sign signs the catalog"
verify signed.cat
ok $? "osslsigncode verifies the signed catalog"
is "$(nsig)" 1 "one signature"
like "$(cat verify.out)" "File name: driver.sys" "its members are listed (driver.sys)"
like "$(cat verify.out)" "File name: helper.dll" "and helper.dll"
like "$(grep -A2 'File name: driver.inf' verify.out)" \
	"$(sha1sum driver.inf | awk '{print toupper($1)}')" "with their SHA-1 hashes"
like "$(cat verify.out)" "Signing time:" "it carries a signing time"
like "$(cat verify.out)" "Microsoft Individual Code Signing purpose" "and the statement type"
openssl asn1parse -inform DER -in signed.cat >asn1.out
like "$(sed -n 2p asn1.out)" "pkcs7-signedData" "the file is a PKCS#7 SignedData"
like "$(grep -m1 -A2 'contentType' asn1.out | tail -1)" "1.3.6.1.4.1.311.10.1" \
	"whose signed contentType is the CTL"
is "$(ctl_of signed.cat)" "$(ctl_of driver.cat)" "the trust list is the input's, byte for byte"
like "$(cat verify.out)" "Message digest algorithm: SHA256" "SHA-256 by default"

# 2. Re-signing replaces the signer; --nest adds ours beside it.
run_tool csod-sign --cert "$PKI/ec.pem" --key "$PKI/ec.key" --chain "$PKI/chain.pem" \
	--digest sha384 signed.cat resigned.cat
ok $? "a signed catalog re-signed"
verify resigned.cat
ok $? "osslsigncode verifies the re-signed catalog"
is "$(nsig)" 1 "with one signature: the old signer was replaced"
like "$(cat verify.out)" "Message digest algorithm: SHA384" "the new one"
sign signed.cat nested.cat --nest --digest sha512
ok $? "--nest on a signed catalog"
verify nested.cat
ok $? "osslsigncode verifies the doubly signed catalog"
is "$(nsig)" 2 "both signatures"
sign driver.cat dual.cat --digest sha1,sha256
verify dual.cat
ok $? "two digests at once verify"
is "$(nsig)" 2 "as two (nested) signatures"

# osslsigncode's own catalog signature: ours nests into it (our self-check
# takes it for structure, its roots not being ours), and its verify agrees.
osslsigncode sign -certs "$PKI/other.pem" -key "$PKI/other.key" -in driver.cat -out theirs.cat >/dev/null 2>&1
sign theirs.cat both.cat --nest
ok $? "csod-sign --nest accepts osslsigncode's catalog signature"
osslsigncode verify -CAfile "$PKI/root.pem" -in both.cat >verify.out 2>&1
like "$(cat verify.out)" "Signature Index: 1" "osslsigncode finds the nested signature"
like "$(sed -n '/Signature Index: 1/,$p' verify.out)" "Signature verification: ok" "and verifies ours"

# A timestamp from the loopback TSA.
start_loopback_tsa || fail "the loopback TSA starts"
sign driver.cat stamped.cat --timestamp-ca "$TSA/tsaroot.pem" --timestamp "$TSA_URL"
ok $? "a catalog signed with a timestamp"
osslsigncode verify -CAfile "$PKI/root.pem" -TSA-CAfile "$TSA/tsaroot.pem" -in stamped.cat >verify.out 2>&1
ok $? "osslsigncode verifies it"
like "$(cat verify.out)" "Timestamp Server Signature verification: ok" "including the timestamp"
kill $TSA_PID 2>/dev/null
wait $TSA_PID 2>/dev/null

# 3. A changed member hash breaks the signature.
/usr/bin/python3 - signed.cat tampered.cat "$(sha1sum helper.dll | awk '{print $1}')" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
at = data.find(bytes.fromhex(sys.argv[3]))
assert at > 0
data[at] ^= 1
open(sys.argv[2], "wb").write(data)
PY
! verify tampered.cat
ok $? "osslsigncode refuses a signed catalog whose member hash was changed"
like "$(cat verify.out)" "Signature verification: failed" "as a bad signature"

# 4. Bad input: a one-line reason naming the file, nothing written.
refused() { # refused FILE PATTERN DESCRIPTION
	local out rc
	out=$(sign "$1" "out-$1" 2>&1)
	rc=$?
	is "$rc" 1 "$3 is refused"
	like "$out" "^csod-sign: $1: .*$2" "saying why"
	is "$(printf '%s\n' "$out" | wc -l)" 1 "in one line"
	check "and no output is left" test ! -e "out-$1"
}
head -c 3000 /dev/urandom | tr '\060' '\061' >garbage.cat
refused garbage.cat "not a PE, MSI or CAB file, or security catalog" "random bytes named .cat"
printf 'hello' >data.txt
openssl cms -sign -in data.txt -signer "$PKI/rsa.pem" -inkey "$PKI/rsa.key" -outform DER -nodetach -out cms.cat
refused cms.cat "not a security catalog \(its signed content is 1.2.840.113549.1.7.1" \
	"a CMS signature of other data"
head -c 400 driver.cat >truncated.cat
refused truncated.cat "not a security catalog \(not a DER PKCS#7 structure\)" "a truncated catalog"
{ cat driver.cat; printf 'junk'; } >trailing.cat
refused trailing.cat "4 bytes follow the catalog's PKCS#7 structure" "bytes after the catalog"
/usr/bin/python3 - driver.cat badctl.cat <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
at = data.find(bytes.fromhex("060a2b0601040182370c0101"))  # the CTL's subjectUsage OID
data[at - 2] = 0x31  # its SEQUENCE made a SET
open(sys.argv[2], "wb").write(data)
PY
refused badctl.cat "the catalog's certificate trust list does not parse" "a catalog whose CTL is broken"
truncate -s 65M huge.cat
printf '\x30\x84\x04\x10\x00\x00' | dd of=huge.cat conv=notrunc 2>/dev/null
refused huge.cat "catalogs over 64 MiB are not signed" "a 65 MiB catalog"
cp driver.cat noext
sign noext noext-signed
ok $? "a catalog without the .cat extension is told by its content"
verify noext-signed
ok $? "and verifies"

# 5. Through the daemon, dropped by a real Unix user, auto-approved.
DEV=csodt-cat$$
useradd -M -N -s /usr/sbin/nologin "$DEV" || exit 1
trap 'stop_loopback_tsa; userdel "$DEV" 2>/dev/null; cleanup' EXIT
chmod 755 "$T_DIR"
chmod 644 "$T_DIR"/*.cat
write_config
start_daemon || exit 1
drop() { runuser -u "$DEV" -- sh -c "cp '$T_DIR/$1' '$SPOOL/inbox/$DEV/.$2.tmp' && mv '$SPOOL/inbox/$DEV/.$2.tmp' '$SPOOL/inbox/$DEV/$2'"; }
drop driver.cat package.cat
drop signed.cat again.cat
drop garbage.cat broken.cat
for f in package.cat again.cat; do
	wait_state "$f" signed 60
	ok $? "a dropped $f is signed by csodd"
	osslsigncode verify -CAfile "$SPOOL/ca/ca.pem" -in "$(request_dir "$f")/$f" >verify.out 2>&1
	ok $? "osslsigncode verifies the daemon's $f against the local CA"
	is "$(nsig)" 1 "with one signature"
done
is "$(ctl_of "$(request_dir package.cat)/package.cat")" "$(ctl_of driver.cat)" \
	"the daemon kept the trust list byte for byte"
like "$(cat "$(request_dir package.cat)/request.json")" '"engine": "cat"' \
	"request.json names the cat engine"
# A folder drop with request.conf append = true: ours nests into the
# catalog's existing (osslsigncode, unrelated root) signature.
runuser -u "$DEV" -- sh -c "mkdir '$SPOOL/inbox/$DEV/nest' && cp '$T_DIR/theirs.cat' '$SPOOL/inbox/$DEV/nest/vendor.cat' &&
	printf 'append = true;\n' >'$SPOOL/inbox/$DEV/nest/request.conf' && touch '$SPOOL/inbox/$DEV/nest/READY'"
wait_state nest signed 60
ok $? "csodd nests into a signed catalog (append = true)"
osslsigncode verify -CAfile "$SPOOL/ca/ca.pem" -in "$(request_dir nest)/vendor.cat" >verify.out 2>&1
like "$(sed -n '/Signature Index: 1/,$p' verify.out)" "Signature verification: ok" \
	"osslsigncode verifies the daemon's nested signature"
wait_state broken.cat failed 60
ok $? "a garbage .cat dropped in the inbox fails"
like "$(cat "$(request_dir broken.cat)/ERROR" 2>/dev/null)" "broken.cat: not a file the authenticode service can sign" \
	"and ERROR says why"
check "csodd keeps running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
