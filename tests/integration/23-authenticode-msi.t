#!/bin/bash
# Authenticode for MSI (OLE compound files) made by wixl at test time: a
# small one (streams in the mini stream), a 200 KB one (regular FAT
# chains) and an 8 MB one (more than 109 FAT sectors: DIFAT sectors).
# Judged by osslsigncode verify, msiinfo and libgsf (gsf cat, an
# independent compound-file reader); every digest, RSA and EC, re-signing,
# nesting, dual signatures, timestamps, crafted broken files, the daemon.
. "$(dirname "$0")/lib.sh"
command -v wixl >/dev/null || skip_all "wixl not installed"
command -v gsf >/dev/null || skip_all "gsf (libgsf-bin) not installed"
PKI=$T_DIR/pki
TSA=$T_DIR/tsa
make_pki "$PKI"
sh "$CSOD_TOP/tests/fixtures/mktsa.sh" "$TSA"
TSA_PID=
stop_tsa() { [ -n "$TSA_PID" ] && kill "$TSA_PID" 2>/dev/null && wait "$TSA_PID" 2>/dev/null; TSA_PID=; }
trap 'stop_tsa; cleanup' EXIT
cd "$T_DIR"

. "$CSOD_TOP/tests/integration/helpers/make_msi.sh"
echo "hello from csod" >readme.txt
echo "a second small file" >notes.txt
head -c 200000 /dev/urandom >medium.bin
head -c 8500000 /dev/urandom >large.bin
make_msi small.msi readme.txt notes.txt
make_msi medium.msi readme.txt medium.bin
make_msi large.msi readme.txt large.bin
header_u32() { /usr/bin/python3 -c 'import struct,sys; print(struct.unpack_from("<I", open(sys.argv[1],"rb").read(512), int(sys.argv[2],0))[0])' "$@"; }
[ "$(header_u32 large.msi 0x48)" -gt 0 ]
ok $? "the 8 MB MSI needs DIFAT sectors (more than 109 FAT sectors)"

sign() { # sign KEYTYPE IN OUT [more csod-sign options]
	local k=$1 in=$2 out=$3
	shift 3
	run_tool csod-sign --cert "$PKI/$k.pem" --key "$PKI/$k.key" --chain "$PKI/chain.pem" "$@" "$in" "$out"
}
verify() { osslsigncode verify -CAfile "${CA:-$PKI/root.pem}" "$@" >"$T_DIR/verify.out" 2>&1; }
nsig() { grep -o 'Number of verified signatures: [0-9]*' "$T_DIR/verify.out" | grep -o '[0-9]*$'; }
# Every stream as libgsf reads it: hex of its name, MD5 of its bytes.
streams() {
	gsf list "$1" | awk 'NR > 2 && $1 == "f" { print $3 }' | while IFS= read -r n; do
		printf '%s %s\n' "$(printf %s "$n" | od -An -tx1 | tr -d ' \n')" \
			"$(gsf cat "$1" "$n" | md5sum | cut -c1-32)"
	done | sort
}
SIG_NAME=$(printf '\005DigitalSignature' | od -An -tx1 | tr -d ' \n')
unchanged() { # unchanged ORIG SIGNED: same streams, plus DigitalSignature
	streams "$1" >orig.streams
	streams "$2" | grep -v "^$SIG_NAME " >signed.streams
	[ -s orig.streams ] && cmp orig.streams signed.streams
}

for f in small.msi medium.msi large.msi; do
	for d in md5 sha1 sha256 sha384 sha512; do
		sign rsa "$f" "rsa-$d-$f" --digest "$d"
		ok $? "$f signed with RSA and $d"
		verify -in "rsa-$d-$f"
		ok $? "osslsigncode verifies $f ($d)"
	done
	sign ec "$f" "ec-$f" --digest sha256
	verify -in "ec-$f"
	ok $? "$f signed with ECDSA P-256 verifies"
	check "every original stream of $f is byte-identical (gsf cat)" unchanged "$f" "rsa-sha256-$f"
	check "msiinfo still reads the tables of signed $f" msiinfo tables "rsa-sha256-$f"
	is "$(msiinfo streams "rsa-sha256-$f" | grep -v DigitalSignature)" "$(msiinfo streams "$f")" \
		"msiinfo lists the same streams in signed $f"
	is "$(msiinfo extract "rsa-sha256-$f" data.cab | md5sum)" "$(msiinfo extract "$f" data.cab | md5sum)" \
		"msiinfo extracts the same data.cab from signed $f"
done
[ "$(header_u32 rsa-sha256-large.msi 0x48)" -gt 0 ]
ok $? "the signed 8 MB MSI has DIFAT sectors too"

# Version 4 (4096-byte sectors), made from the medium MSI by libgsf.
/usr/bin/python3 "$CSOD_TOP/tests/fixtures/cfb_v4.py" medium.msi v4.msi
is "$(od -An -tx1 -j 26 -N 4 v4.msi | tr -d ' ')" 0400feff "a version 4 MSI made by libgsf"
for d in sha1 sha256; do
	sign rsa v4.msi "v4-$d.msi" --digest "$d"
	verify -in "v4-$d.msi"
	ok $? "a version 4 MSI signed with $d verifies"
done
is "$(od -An -tx1 -j 26 -N 4 v4-sha256.msi | tr -d ' ')" 0400feff "and stays version 4"
check "every stream of the version 4 MSI is byte-identical" unchanged v4.msi v4-sha256.msi
check "msiinfo reads its tables" msiinfo tables v4-sha256.msi

# A storage inside the root (as embedded transforms are): its streams are
# hashed in place, its CLSID after them.
/usr/bin/python3 "$CSOD_TOP/tests/fixtures/cfb_v4.py" small.msi sub.msi 512 storage
like "$(gsf list sub.msi)" "csodSub/inner" "an MSI with a storage inside"
sign rsa sub.msi sub-signed.msi
verify -in sub-signed.msi
ok $? "signed, osslsigncode verifies it"
check "every stream, in the storage too, is byte-identical" unchanged sub.msi sub-signed.msi
is "$(gsf cat sub-signed.msi csodSub/tiny)" small "the storage's small stream reads back"

# The hash we sign is the one osslsigncode calculates for the file.
verify -in rsa-sha256-medium.msi
cur=$(grep 'Current DigitalSignature' verify.out | awk '{print $NF}')
calc=$(grep 'Calculated DigitalSignature' verify.out | awk '{print $NF}')
is "$cur" "$calc" "the signed MSI hash equals osslsigncode's calculated one"
like "$cur" '^[0-9A-F]{64}$' "and is a SHA-256"

# osslsigncode's own signature of the same file verifies, with the same hash.
osslsigncode sign -certs "$PKI/rsa.pem" -key "$PKI/rsa.key" -ac "$PKI/chain.pem" -h sha256 \
	-in medium.msi -out theirs.msi >/dev/null 2>&1
verify -in theirs.msi
ok $? "osslsigncode's signature of the same MSI verifies"
is "$(grep 'Current DigitalSignature' verify.out | awk '{print $NF}')" "$cur" \
	"and carries the same MSI hash as ours"

sign rsa rsa-sha256-small.msi resigned.msi --digest sha512
verify -in resigned.msi
ok $? "re-signing a signed MSI verifies"
is "$(nsig)" 1 "and replaces the old signature"
like "$(grep 'Message digest algorithm  *:' verify.out)" SHA512 "with the new one (SHA-512)"
sign rsa theirs.msi resigned-theirs.msi
verify -in resigned-theirs.msi
ok $? "re-signing osslsigncode's signed MSI verifies"

sign rsa medium.msi dual.msi --digest sha1 --digest sha256
verify -in dual.msi
ok $? "dual SHA-1 + SHA-256 signature verifies"
is "$(nsig)" 2 "both signatures (nested) verify"

sign ec rsa-sha256-medium.msi appended.msi --nest
verify -in appended.msi
ok $? "--nest keeps the existing signature and adds ours"
is "$(nsig)" 2 "both verify"

# A file signed with MsiDigitalSignatureEx: nesting keeps it (and hashes
# with its pre-hash), re-signing drops it.
osslsigncode sign -certs "$PKI/rsa.pem" -key "$PKI/rsa.key" -ac "$PKI/chain.pem" -h sha256 \
	-add-msi-dse -in small.msi -out dse.msi >/dev/null 2>&1
sign ec dse.msi dse-nested.msi --nest
verify -in dse-nested.msi
ok $? "nesting into a signature with MsiDigitalSignatureEx verifies"
is "$(nsig)" 2 "both signatures verify"
check "the MsiDigitalSignatureEx stream is kept" grep -q 'Current MsiDigitalSignatureEx' verify.out
sign rsa dse.msi dse-resigned.msi
verify -in dse-resigned.msi
ok $? "re-signing it verifies"
check "without MsiDigitalSignatureEx" grep -q "MsiDigitalSignatureEx stream doesn't exist" verify.out
out=$(sign ec dse.msi dse-sha1.msi --nest --digest sha1 2>&1)
like "$out" "MsiDigitalSignatureEx pre-hash has 32 bytes" \
	"nesting another digest under MsiDigitalSignatureEx is refused with the reason"

# A timestamp from the loopback TSA.
rm -f "$TSA/port"
/usr/bin/python3 "$CSOD_TOP/tests/fixtures/tsa.py" "$TSA" "$TSA/port" ok >/dev/null 2>&1 &
TSA_PID=$!
wait_for 10 test -s "$TSA/port"
sign rsa small.msi ts.msi --timestamp "http://127.0.0.1:$(cat "$TSA/port")/tsa" --timestamp-ca "$TSA/tsaroot.pem"
ok $? "an MSI signed with a timestamp"
verify -TSA-CAfile "$TSA/tsaroot.pem" -in ts.msi
ok $? "osslsigncode verifies it"
check "including the timestamp" grep -q "Timestamp Server Signature verification: ok" verify.out
stop_tsa

# Bad input: a one-line reason, no crash, nothing written.
refused() { # refused FILE PATTERN DESCRIPTION
	local out
	out=$(sign rsa "$1" "out-$1" 2>&1)
	local rc=$?
	is "$rc" 1 "$3: refused"
	like "$out" "$2" "$3: with the reason"
	is "$(printf '%s\n' "$out" | wc -l)" 1 "$3: on one line"
	check "$3: no output left" test ! -e "out-$1"
}
head -c 300 small.msi >trunc.msi
refused trunc.msi "trunc.msi: truncated compound file" "a truncated header"
head -c 100000 medium.msi >short.msi
refused short.msi "short.msi: the header claims 4 FAT sectors for a file of 195 sectors" \
	"an MSI cut in half"
patch_msi() { # patch_msi IN OUT PYTHON: runs PYTHON with b (bytearray), u32, p32, fat
	/usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
u32 = lambda off: struct.unpack_from("<I", b, off)[0]
def p32(off, v): struct.pack_into("<I", b, off, v)
def fat(s):  # offset of FAT entry s (FAT sectors from the header's DIFAT)
    return (u32(0x4c + 4 * (s // 128)) + 1) * 512 + (s % 128) * 4
def entry(i):  # offset of directory entry i (first directory sector chain)
    s = u32(0x30)
    for _ in range(i // 4):
        s = u32(fat(s))
    return (s + 1) * 512 + (i % 4) * 128
def big_stream():  # a stream of 4096 bytes or more: regular FAT chain
    i = 1
    while True:
        e = entry(i)
        if b[e + 0x42] == 2 and u32(e + 0x78) >= 4096:
            return e
        i += 1
exec(sys.argv[3])
open(sys.argv[2], "wb").write(b)
PY
}
patch_msi medium.msi loop.msi 'e = big_stream(); s = u32(e + 0x74); n = u32(fat(s)); p32(fat(n), s)'
refused loop.msi "loop.msi: stream entry [0-9]+: a loop in its FAT chain" "a FAT chain looping back"
patch_msi medium.msi past.msi 'e = big_stream(); p32(e + 0x74, 0x00100000)'
refused past.msi "past.msi: stream entry [0-9]+: sector 1048576 is past the end" \
	"a stream starting past the end"
patch_msi medium.msi cycle.msi 'r = entry(0); c = u32(r + 0x4c); p32(entry(c) + 0x44, c)'
refused cycle.msi "cycle.msi: directory entry [0-9]+ is linked twice" "a cycle in the directory"
patch_msi medium.msi hugesize.msi 'e = big_stream(); p32(e + 0x78, 0x7fffffff)'
refused hugesize.msi "hugesize.msi: stream entry [0-9]+: its size" "a stream size beyond the file"

# Memory does not grow with the input: a 48 MB MSI. (The binary itself, not
# the valgrind wrapper on PATH: this measures its RSS.)
head -c 50000000 /dev/urandom >huge.bin
make_msi huge.msi readme.txt huge.bin
rss=$( { /usr/bin/time -f '%M' "$CSOD_BIN/csod-sign" --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" \
	--chain "$PKI/chain.pem" huge.msi huge-signed.msi; } 2>&1 | tail -1)
verify -in huge-signed.msi
ok $? "a 48 MB MSI signs and verifies"
diag "peak RSS signing a 48 MB MSI: $rss KB"
[ "${CSOD_SAN:-0}" = 1 ] || [ "$rss" -lt 24576 ]
ok $? "peak RSS stays well below the input's size"
rm -f huge.bin huge.msi huge-signed.msi

# Through the daemon.
write_config
start_daemon || exit 1
cp medium.msi "$SPOOL/inbox/$DEV/.setup.msi.tmp"
mv "$SPOOL/inbox/$DEV/.setup.msi.tmp" "$SPOOL/inbox/$DEV/setup.msi"
wait_state setup.msi signed 60
ok $? "a dropped MSI is signed by csodd"
CA=$SPOOL/ca/ca.pem verify -in "$(request_dir setup.msi)/setup.msi"
ok $? "and osslsigncode verifies it against the local CA"
cp trunc.msi "$SPOOL/inbox/$DEV/.broken.msi.tmp"
mv "$SPOOL/inbox/$DEV/.broken.msi.tmp" "$SPOOL/inbox/$DEV/broken.msi"
wait_state broken.msi failed 30
ok $? "a broken MSI dropped in the inbox fails"
like "$(cat "$(request_dir broken.msi)/ERROR" 2>/dev/null)" "broken.msi: truncated compound file" \
	"with the reason"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
