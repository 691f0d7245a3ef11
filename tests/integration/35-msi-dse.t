#!/bin/bash
# MsiDigitalSignatureEx (osslsigncode -add-msi-dse): the pre-hash of the
# compound file's entry metadata that Windows checks before the content.
# Asked for with csod-sign --msi-dse or request.conf msi_dse; judged by
# osslsigncode verify (which recomputes it), msiinfo and msiextract, and
# compared byte for byte with osslsigncode's own stream for the same input.
# Nesting keeps a valid one and never adds one; re-signing replaces it.
. "$(dirname "$0")/lib.sh"
command -v wixl >/dev/null || skip_all "wixl not installed"
command -v msiextract >/dev/null || skip_all "msiextract (msitools) not installed"
PKI=$T_DIR/pki
make_pki "$PKI"
cd "$T_DIR"

. "$CSOD_TOP/tests/integration/helpers/make_msi.sh"
echo "hello from csod" >readme.txt
head -c 300000 /dev/urandom >payload.bin
make_msi small.msi readme.txt
make_msi medium.msi readme.txt payload.bin

sign() { # sign KEYTYPE IN OUT [more csod-sign options]
	local k=$1 in=$2 out=$3
	shift 3
	run_tool csod-sign --cert "$PKI/$k.pem" --key "$PKI/$k.key" --chain "$PKI/chain.pem" "$@" "$in" "$out"
}
theirs() { # theirs DIGEST IN OUT [more]: osslsigncode's signature
	local d=$1 in=$2 out=$3
	shift 3
	osslsigncode sign -certs "$PKI/rsa.pem" -key "$PKI/rsa.key" -ac "$PKI/chain.pem" -h "$d" \
		"$@" -in "$in" -out "$out" >/dev/null 2>&1
}
verify() { osslsigncode verify -CAfile "${CA:-$PKI/root.pem}" -in "$1" >"$T_DIR/verify.out" 2>&1; }
field() { grep "^$1 *:" "$T_DIR/verify.out" | awk '{print $NF}'; }
nsig() { grep -o 'Number of verified signatures: [0-9]*' "$T_DIR/verify.out" | grep -o '[0-9]*$'; }
dse_hex() { msiinfo extract "$1" "$(printf '\005MsiDigitalSignatureEx')" | od -An -tx1 | tr -d ' \n'; }
extracted() { # extracted MSI: MD5 of every file msiextract takes out of it
	rm -rf "x.$1" && mkdir "x.$1" && msiextract -C "x.$1" "$1" >/dev/null &&
		(cd "x.$1" && find . -type f -exec md5sum {} + | sort -k2)
}

for f in small.msi medium.msi; do
	for d in sha1 sha256 sha512; do
		sign rsa "$f" "dse-$d-$f" --digest "$d" --msi-dse
		ok $? "$f signed with $d and --msi-dse"
		verify "dse-$d-$f"
		ok $? "osslsigncode verifies it"
		cur=$(field 'Current MsiDigitalSignatureEx')
		like "$cur" "^[0-9A-F]{$((${d#sha} == 1 ? 40 : ${d#sha} / 4))}\$" \
			"it carries a $d MsiDigitalSignatureEx"
		is "$(field 'Calculated MsiDigitalSignatureEx')" "$cur" \
			"which osslsigncode recomputes from the file's entries"
		theirs "$d" "$f" "theirs-$d-$f" -add-msi-dse
		is "$(dse_hex "dse-$d-$f")" "$(dse_hex "theirs-$d-$f")" \
			"the stream is byte for byte osslsigncode -add-msi-dse's ($d)"
		verify "theirs-$d-$f"
		is "$(field 'Current DigitalSignature')" \
			"$(verify "dse-$d-$f"; field 'Current DigitalSignature')" \
			"and the signed hash (pre-hash then content) is osslsigncode's"
	done
	like "$(msiinfo streams "dse-sha256-$f")" "MsiDigitalSignatureEx" "msiinfo lists the stream in $f"
	is "$(msiinfo streams "dse-sha256-$f" | grep -cv 'DigitalSignature')" \
		"$(msiinfo streams "$f" | wc -l)" "and every original stream"
	is "$(extracted "dse-sha256-$f")" "$(extracted "$f")" "msiextract takes out the same files"
done

# Without --msi-dse none is written (as before).
sign rsa small.msi plain.msi
verify plain.msi
check "without --msi-dse there is no MsiDigitalSignatureEx" \
	grep -q "MsiDigitalSignatureEx stream doesn't exist" verify.out

# The pre-hash covers the entries' times: a changed time in the directory
# breaks a signature with MsiDigitalSignatureEx, not one without.
retime() { # retime IN OUT: sets the modified time of \005SummaryInformation
	/usr/bin/python3 - "$1" "$2" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
u32 = lambda off: struct.unpack_from("<I", b, off)[0]
ss = 1 << struct.unpack_from("<H", b, 0x1e)[0]
def fat(s): return u32((u32(0x4c + 4 * (s // (ss // 4))) + 1) * ss + (s % (ss // 4)) * 4)
name = "\x05SummaryInformation".encode("utf-16-le")
s = u32(0x30)
while s != 0xfffffffe:
    for k in range(ss // 128):
        e = (s + 1) * ss + k * 128
        if b[e:e + len(name)] == name and b[e + 0x42] == 2:
            b[e + 0x6c:e + 0x74] = struct.pack("<Q", 0x01d0000012345678)
            open(sys.argv[2], "wb").write(b)
            sys.exit(0)
    s = fat(s)
sys.exit(1)
PY
}
retime dse-sha256-small.msi retimed-dse.msi && retime plain.msi retimed-plain.msi
ok $? "a stream's modified time patched in both signed files"
verify retimed-plain.msi
ok $? "without MsiDigitalSignatureEx osslsigncode does not notice"
! verify retimed-dse.msi
ok $? "with it, osslsigncode rejects the file"
like "$(cat verify.out)" "MsiDigitalSignatureEx" "naming MsiDigitalSignatureEx"

# Several digests share one pre-hash: refused with the reason.
out=$(sign rsa small.msi dual.msi --msi-dse --digest sha1 --digest sha256 2>&1)
is "$?" 1 "--msi-dse with two digests is refused"
like "$out" "small.msi: MsiDigitalSignatureEx holds one pre-hash, made with one digest" "with the reason"
check "nothing is written" test ! -e dual.msi

# Nesting onto a signature with MsiDigitalSignatureEx keeps it as it is.
sign ec dse-sha256-medium.msi nested.msi --nest --msi-dse
ok $? "--nest --msi-dse onto a file that has one"
verify nested.msi
ok $? "osslsigncode verifies it"
is "$(nsig)" 2 "both signatures verify"
is "$(dse_hex nested.msi)" "$(dse_hex dse-sha256-medium.msi)" "the MsiDigitalSignatureEx is kept unchanged"
sign ec theirs-sha256-medium.msi nested-theirs.msi --nest
verify nested-theirs.msi
ok $? "--nest onto osslsigncode's -add-msi-dse signature verifies"
is "$(nsig)" 2 "both signatures verify"
# ... and refuses one that no longer matches the file (its signature is broken).
out=$(sign ec retimed-dse.msi nested-broken.msi --nest 2>&1)
is "$?" 1 "--nest onto a file whose MsiDigitalSignatureEx no longer matches is refused"
like "$out" "retimed-dse.msi: the MsiDigitalSignatureEx stream does not match the file's entries" \
	"with the reason"
# Nesting onto a signature without one never adds one: that would break it.
out=$(sign ec plain.msi nested-add.msi --nest --msi-dse 2>&1)
is "$?" 1 "--nest --msi-dse onto a signature made without one is refused"
like "$out" "plain.msi: the existing signature was made without MsiDigitalSignatureEx" "with the reason"
check "nothing is written" test ! -e nested-add.msi
sign ec plain.msi nested-plain.msi --nest
verify nested-plain.msi
check "--nest alone onto it adds none" grep -q "MsiDigitalSignatureEx stream doesn't exist" verify.out
is "$(nsig)" 2 "and both signatures verify"
# --nest onto an unsigned file signs it as new: the stream is added.
sign rsa small.msi nest-unsigned.msi --nest --msi-dse
verify nest-unsigned.msi
ok $? "--nest --msi-dse onto an unsigned MSI verifies"
is "$(dse_hex nest-unsigned.msi)" "$(dse_hex dse-sha256-small.msi)" "with the MsiDigitalSignatureEx"

# Re-signing replaces the stream with one of the new digest.
sign rsa dse-sha256-small.msi resigned.msi --msi-dse --digest sha512
verify resigned.msi
ok $? "re-signing with --msi-dse --digest sha512 verifies"
is "$(nsig)" 1 "with one signature"
is "$(dse_hex resigned.msi)" "$(dse_hex theirs-sha512-small.msi)" \
	"and osslsigncode's SHA-512 MsiDigitalSignatureEx of the original"
sign rsa dse-sha256-small.msi resigned-plain.msi
verify resigned-plain.msi
check "re-signing without --msi-dse drops it" grep -q "MsiDigitalSignatureEx stream doesn't exist" verify.out

# Through the daemon: request.conf msi_dse.
write_config
start_daemon || exit 1
mkdir "$SPOOL/inbox/$DEV/dse"
cp medium.msi "$SPOOL/inbox/$DEV/dse/setup.msi"
printf 'msi_dse = true;\ndigests = [ "sha256" ];\n' >"$SPOOL/inbox/$DEV/dse/request.conf"
touch "$SPOOL/inbox/$DEV/dse/READY"
wait_state dse signed 60
ok $? "a folder whose request.conf says msi_dse = true is signed"
CA=$SPOOL/ca/ca.pem verify "$(request_dir dse)/setup.msi"
ok $? "osslsigncode verifies it against the local CA"
is "$(field 'Current MsiDigitalSignatureEx')" "$(field 'Calculated MsiDigitalSignatureEx')" \
	"with a matching MsiDigitalSignatureEx"
is "$(dse_hex "$(request_dir dse)/setup.msi")" "$(dse_hex theirs-sha256-medium.msi)" \
	"equal to osslsigncode's"
mkdir "$SPOOL/inbox/$DEV/plain"
cp medium.msi "$SPOOL/inbox/$DEV/plain/setup.msi"
touch "$SPOOL/inbox/$DEV/plain/READY"
wait_state plain signed 60
CA=$SPOOL/ca/ca.pem verify "$(request_dir plain)/setup.msi"
check "without msi_dse the daemon adds none" grep -q "MsiDigitalSignatureEx stream doesn't exist" verify.out
# What cannot be done as asked fails at intake, before any approval.
mkdir "$SPOOL/inbox/$DEV/nestadd"
cp plain.msi "$SPOOL/inbox/$DEV/nestadd/setup.msi"
printf 'append = true;\nmsi_dse = true;\n' >"$SPOOL/inbox/$DEV/nestadd/request.conf"
touch "$SPOOL/inbox/$DEV/nestadd/READY"
wait_state nestadd failed 30
ok $? "append + msi_dse onto a signature made without MsiDigitalSignatureEx fails"
like "$(cat "$(request_dir nestadd)/ERROR" 2>/dev/null)" \
	"setup.msi: the existing signature was made without MsiDigitalSignatureEx" "with the reason"
is "$(json_field "$(request_dir nestadd)/request.json" approved)" "" "at intake, before any approval"
mkdir "$SPOOL/inbox/$DEV/badconf"
cp small.msi "$SPOOL/inbox/$DEV/badconf/setup.msi"
printf 'msi_dse = "yes";\n' >"$SPOOL/inbox/$DEV/badconf/request.conf"
touch "$SPOOL/inbox/$DEV/badconf/READY"
wait_state badconf failed 30
ok $? "msi_dse that is not a boolean fails the request"
like "$(cat "$(request_dir badconf)/ERROR" 2>/dev/null)" "msi_dse.*expected true or false" "with the reason"
check "csodd is still running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
