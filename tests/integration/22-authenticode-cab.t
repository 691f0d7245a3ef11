#!/bin/bash
# Authenticode for CAB files made by gcab at test time: one file, several,
# compressed, several MB; every digest, RSA and EC; re-signing, dual and
# appended (nested) signatures, a timestamp; judged by osslsigncode verify
# and gcab -l. Bad cabinets are refused with a reason. Also through the
# daemon: a dropped CAB comes back signed.
. "$(dirname "$0")/lib.sh"
command -v gcab >/dev/null || skip_all "gcab not installed"
PKI=$T_DIR/pki
TSA=$T_DIR/tsa
make_pki "$PKI"
cd "$T_DIR"
echo "hello from csod" >hello.txt
head -c 70000 /dev/urandom >random.bin
seq 1 20000 >numbers.txt
gcab -c one.cab hello.txt
gcab -c several.cab hello.txt random.bin numbers.txt
gcab -cz zipped.cab hello.txt numbers.txt random.bin
head -c 40000000 /dev/urandom >big.bin
gcab -c big.cab big.bin hello.txt
rm big.bin

sign() { # sign KEYTYPE IN OUT [more csod-sign options]
	local k=$1 in=$2 out=$3
	shift 3
	run_tool csod-sign --cert "$PKI/$k.pem" --key "$PKI/$k.key" --chain "$PKI/chain.pem" "$@" "$in" "$out"
}
verify() { osslsigncode verify -CAfile "$PKI/root.pem" "${@:2}" -in "$1" >"$T_DIR/verify.out" 2>&1; }
nsig() { grep -o 'Number of verified signatures: [0-9]*' "$T_DIR/verify.out" | grep -o '[0-9]*$'; }
digest_matches() { # the signed cabinet hash equals the one osslsigncode computes
	local cur calc
	cur=$(grep 'Current message digest' "$T_DIR/verify.out" | head -1 | awk '{print $NF}')
	calc=$(grep 'Calculated message digest' "$T_DIR/verify.out" | head -1 | awk '{print $NF}')
	[ -n "$cur" ] && [ "$cur" = "$calc" ]
}

for f in one.cab several.cab zipped.cab; do
	for d in md5 sha1 sha256 sha384 sha512; do
		sign rsa "$f" "rsa-$d-$f" --digest "$d"
		ok $? "$f signed with RSA and $d"
		verify "rsa-$d-$f"
		ok $? "osslsigncode verifies $f ($d)"
		digest_matches
		ok $? "and the signed cabinet hash of $f ($d) is the one it computes"
	done
	sign ec "$f" "ec-$f" --digest sha256
	verify "ec-$f"
	ok $? "$f signed with ECDSA P-256 verifies"
	check "gcab -l still lists the signed $f" gcab -l "rsa-sha256-$f"
	is "$(gcab -l "rsa-sha256-$f" | awk '{print $1}')" "$(gcab -l "$f" | awk '{print $1}')" \
		"with the same files"
done
verify rsa-sha256-one.cab
like "$(grep 'Current message digest' verify.out)" ': [0-9A-F]{64} ?$' "the one-file hash is a SHA-256"

# The files and their data are untouched, moved by the inserted 24-byte reserve.
coff=$(od -An -tu4 -j16 -N4 several.cab | tr -d ' ')
size=$(stat -c %s several.cab)
check "the file entries and data after the folder table are untouched" \
	cmp -n $((size - coff)) -i "$coff:$((coff + 24))" several.cab rsa-sha256-several.cab
check "gcab extracts the signed cabinet's files unchanged" \
	sh -c 'mkdir x && gcab -x -C x rsa-sha256-zipped.cab && cmp x/random.bin random.bin && cmp x/numbers.txt numbers.txt'

# A larger cabinet; memory does not grow with it. (The binary itself, not
# the valgrind wrapper on PATH: this measures its RSS.)
rss=$( { /usr/bin/time -f '%M' "$CSOD_BIN/csod-sign" --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" big.cab big-signed.cab; } 2>&1 | tail -1)
verify big-signed.cab
ok $? "a 40 MB cabinet signs and verifies"
digest_matches
ok $? "with the cabinet hash osslsigncode computes"
diag "peak RSS signing a 40 MB CAB: $rss KB"
[ "${CSOD_SAN:-0}" = 1 ] || [ "$rss" -lt 40000 ]
ok $? "peak RSS stays below the input's size"

# Re-signing replaces; dual digests nest; --nest keeps the existing one.
sign rsa rsa-sha256-several.cab resigned.cab --digest sha512
verify resigned.cab
ok $? "re-signing a signed CAB verifies"
is "$(nsig)" 1 "and replaces the old signature"
like "$(grep 'Message digest algorithm  :' verify.out)" SHA512 "with the new digest"
is "$(stat -c %s resigned.cab)" "$(stat -c %s rsa-sha512-several.cab)" \
	"the same size as signing the unsigned CAB (the reserve is reused, not added again)"
sign rsa several.cab dual.cab --digest sha1 --digest sha256
verify dual.cab
ok $? "dual SHA-1 + SHA-256 signature verifies"
is "$(nsig)" 2 "both signatures (nested) verify"
sign ec rsa-sha256-several.cab appended.cab --nest --digest sha384
verify appended.cab
ok $? "--nest keeps the existing signature and adds ours"
is "$(nsig)" 2 "both verify"
check "gcab -l lists the doubly signed CAB" gcab -l appended.cab
# Nested signatures accumulate (one attribute, several values), never
# replace one another.
sign rsa several.cab triple.cab --digest sha1,sha256,sha512
verify triple.cab
ok $? "three digests at once verify"
is "$(nsig)" 3 "as three signatures"
sign ec dual.cab dual-nest.cab --nest
verify dual-nest.cab
ok $? "--nest on a dual-signed CAB verifies"
is "$(nsig)" 3 "and keeps both earlier signatures beside ours"

# A cabinet with an empty signature reserve (as some tools write them)
# is signed in place.
/usr/bin/python3 - rsa-sha256-one.cab reserved.cab <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
end = struct.unpack_from("<I", b, 8)[0]
b = b[:end]
struct.pack_into("<II", b, 44, 0, 0)
open(sys.argv[2], "wb").write(b)
PY
sign rsa reserved.cab reserved-signed.cab
verify reserved-signed.cab
ok $? "a CAB with an empty signature reserve is signed in place"
is "$(($(od -An -tu4 -j8 -N4 reserved-signed.cab)))" "$(stat -c %s reserved.cab)" \
	"without inserting another reserve"

# A timestamp from the loopback TSA.
sh "$CSOD_TOP/tests/fixtures/mktsa.sh" "$TSA"
/usr/bin/python3 "$CSOD_TOP/tests/fixtures/tsa.py" "$TSA" "$TSA/port" ok >/dev/null 2>&1 &
TSA_PID=$!
trap 'kill $TSA_PID 2>/dev/null; wait $TSA_PID 2>/dev/null; cleanup' EXIT
wait_for 10 test -s "$TSA/port"
sign rsa several.cab stamped.cab --timestamp "http://127.0.0.1:$(cat "$TSA/port")/tsa" \
	--timestamp-ca "$TSA/tsaroot.pem"
ok $? "a CAB signed with a timestamp"
verify stamped.cab -TSA-CAfile "$TSA/tsaroot.pem"
ok $? "osslsigncode verifies it"
out=$(cat verify.out)
like "$out" "Timestamp Server Signature verification: ok" "including the timestamp"
like "$out" "Timestamp time: " "which shows its time"
kill $TSA_PID 2>/dev/null
wait $TSA_PID 2>/dev/null

# Bad input: a one-line reason naming the file, no crash, nothing written.
refused() { # refused FILE PATTERN DESCRIPTION
	local out rc
	out=$(sign rsa "$1" "out-$1" 2>&1)
	rc=$?
	is "$rc" 1 "$3 is refused"
	like "$out" "^csod-sign: $1: .*$2" "saying why"
	is "$(printf '%s\n' "$out" | wc -l)" 1 "in one line"
	check "and no output is left" test ! -e "out-$1"
}
head -c 30 several.cab >trunc.cab
refused trunc.cab "truncated CAB header" "a truncated header"
/usr/bin/python3 - several.cab <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
def variant(name, off, value, fmt="<I"):
    c = bytearray(b)
    struct.pack_into(fmt, c, off, value)
    open(name, "wb").write(c)
variant("liar.cab", 8, len(b) + 1000)
variant("coff.cab", 16, len(b) + 64)
variant("folders.cab", 26, 60000, "<H")
variant("files.cab", 28, 60000, "<H")
variant("set.cab", 30, 2, "<H")
variant("folderdata.cab", 36, len(b) - 4)
PY
refused liar.cab "cbCabinet \($((size + 1000))\) is not the file size \($size\)" "a lying cbCabinet"
refused coff.cab "coffFiles \([0-9]+\) points past the end" "coffFiles past the end"
refused folders.cab "cFolders \(60000\) folder entries do not fit" "an absurd folder count"
refused files.cab "file entry [0-9]+ " "an absurd file count"
refused set.cab "multi-cabinet sets .* not supported" "a cabinet continued in another one"
refused folderdata.cab "folder 1's data block 1 runs past the end" "folder data past the end"
head -c 5000 /dev/urandom >notcab.cab
out=$(sign rsa notcab.cab out-notcab.cab 2>&1)
is "$?" 1 "random bytes named .cab are refused"
like "$out" "notcab.cab: not a file the authenticode service can sign" "saying it is no CAB"
check "and no output is left" test ! -e out-notcab.cab
printf 'MSCF' >tiny.cab
refused tiny.cab "truncated CAB header" "a four-byte MSCF file"

# Through the daemon.
write_config
start_daemon || exit 1
cp zipped.cab "$SPOOL/inbox/$DEV/.setup.cab.tmp"
mv "$SPOOL/inbox/$DEV/.setup.cab.tmp" "$SPOOL/inbox/$DEV/setup.cab"
wait_state setup.cab signed 60
ok $? "a dropped CAB is signed by csodd"
osslsigncode verify -CAfile "$SPOOL/ca/ca.pem" -in "$(request_dir setup.cab)/setup.cab" >verify.out 2>&1
ok $? "and osslsigncode verifies it against the local CA"
digest_matches
ok $? "with the cabinet hash osslsigncode computes"
cp liar.cab "$SPOOL/inbox/$DEV/.broken.cab.tmp"
mv "$SPOOL/inbox/$DEV/.broken.cab.tmp" "$SPOOL/inbox/$DEV/broken.cab"
wait_state broken.cab failed 60
ok $? "a lying CAB dropped in the inbox fails"
like "$(cat "$(request_dir broken.cab)/ERROR" 2>/dev/null)" "cbCabinet" "and ERROR says why"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
