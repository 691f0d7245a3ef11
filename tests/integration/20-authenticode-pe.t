#!/bin/bash
# Authenticode for PE32 and PE32+ (EXE and DLL), every digest, RSA and EC,
# re-signing, nested and appended signatures; judged by osslsigncode verify.
# Also through the daemon: a dropped EXE comes back signed.
. "$(dirname "$0")/lib.sh"
command -v x86_64-w64-mingw32-gcc >/dev/null || skip_all "mingw-w64 not installed"
PKI=$T_DIR/pki
make_pki "$PKI"
cd "$T_DIR"
cat >hello.c <<'C'
#include <stdio.h>
int main(void) { puts("hello from csod"); return 0; }
C
cat >lib.c <<'C'
__declspec(dllexport) int answer(void) { return 42; }
C
x86_64-w64-mingw32-gcc -O1 -o pe64.exe hello.c
i686-w64-mingw32-gcc -O1 -o pe32.exe hello.c
x86_64-w64-mingw32-gcc -O1 -shared -o lib64.dll lib.c
sign() { # sign KEYTYPE IN OUT [more csod-sign options]
	local k=$1 in=$2 out=$3
	shift 3
	run_tool csod-sign --cert "$PKI/$k.pem" --key "$PKI/$k.key" --chain "$PKI/chain.pem" "$@" "$in" "$out"
}
verify() { osslsigncode verify -CAfile "$PKI/root.pem" -in "$1" >"$T_DIR/verify.out" 2>&1; }
nsig() { grep -o 'Number of verified signatures: [0-9]*' "$T_DIR/verify.out" | grep -o '[0-9]*$'; }

for f in pe64.exe pe32.exe lib64.dll; do
	for d in md5 sha1 sha256 sha384 sha512; do
		sign rsa "$f" "rsa-$d-$f" --digest "$d"
		ok $? "$f signed with RSA and $d"
		verify "rsa-$d-$f"
		ok $? "osslsigncode verifies $f ($d)"
	done
	sign ec "$f" "ec-$f" --digest sha256
	verify "ec-$f"
	ok $? "$f signed with ECDSA P-256 verifies"
done

# Real Windows files go by many extensions; wine's 16-bit ones add "16" and
# Debian's signed EFI binaries end in ".efi.signed". Each is a PE by content.
for ext in efi.signed ax acm tlb com ds msstyles drv vxd ocx cpl scr mui winmd dll16 exe16 drv16 foo; do
	cp lib64.dll "lib64.$ext"
	out=$(sign rsa "lib64.$ext" "signed-lib64.$ext" 2>&1)
	ok $? "a PE named .$ext is signed ($out)"
	verify "signed-lib64.$ext"
	ok $? "and osslsigncode verifies it"
done
printf 'MZ but not a PE at all, just text\n%.0s' $(seq 10) >notpe.foo
out=$(sign rsa notpe.foo out-notpe.foo 2>&1)
like "$out" "notpe.foo: unknown file type" "an unknown extension without a PE header is still refused"
# Without --chain the leaf is its own anchor: the refusal says what to add.
out=$(run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" pe64.exe nochain.exe 2>&1)
like "$out" "does not chain to a trusted root.*--chain FILE" "without --chain the self-check says to pass the CA"

# Our image hash is the one osslsigncode computes for the same file.
verify rsa-sha256-pe64.exe
cur=$(grep 'Current message digest' verify.out | awk '{print $NF}')
calc=$(grep 'Calculated message digest' verify.out | awk '{print $NF}')
is "$cur" "$calc" "the signed image hash equals osslsigncode's own"
like "$cur" '^[0-9A-F]{64}$' "and is a SHA-256"

# The PE checksum in the signed files is the one the PE/COFF rules give
# (computed here independently, word by word with end-around carry).
pe_checksum_ok() {
	/usr/bin/python3 - "$1" <<'PY'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
size = len(data)
field = struct.unpack_from("<I", data, 0x3C)[0] + 24 + 64
stored = struct.unpack_from("<I", data, field)[0]
data[field:field + 4] = b"\0\0\0\0"
if len(data) % 2:
    data += b"\0"
s = 0
for (w,) in struct.iter_unpack("<H", data):
    s += w
    s = (s & 0xFFFF) + (s >> 16)
sys.exit(0 if stored == ((s & 0xFFFF) + (s >> 16)) + size else 1)
PY
}
for f in rsa-sha256-pe64.exe rsa-sha256-pe32.exe ec-lib64.dll; do
	check "$f: the PE checksum is right" pe_checksum_ok "$f"
done

sign rsa rsa-sha256-pe64.exe resigned.exe --digest sha512
verify resigned.exe
ok $? "re-signing a signed file verifies"
is "$(nsig)" 1 "and replaces the old signature"
like "$(grep 'Message digest algorithm  :' verify.out)" SHA512 "with the new one (SHA-512)"

sign rsa pe64.exe dual.exe --digest sha1 --digest sha256
verify dual.exe
ok $? "dual SHA-1 + SHA-256 signature verifies"
is "$(nsig)" 2 "both signatures (nested) verify"

sign ec rsa-sha256-pe64.exe appended.exe --nest
verify appended.exe
ok $? "--nest keeps the existing signature and adds ours"
is "$(nsig)" 2 "both verify"

size=$(stat -c %s pe64.exe)
check "the code and data after the headers are untouched" cmp -i 1024 -n $((size - 1024)) pe64.exe rsa-sha256-pe64.exe

# The program name is UTF-8 turned into a BMPString (SpcSpOpusInfo), whole:
# non-ASCII letters kept, long names not cut short.
opus_info() { # opus_info SIGNED-FILE [name]: the SpcSpOpusInfo's DER in hex,
	# or with "name" its [0] unicode program name decoded
	osslsigncode extract-signature -in "$1" -out "$1.p7" >/dev/null 2>&1 || return 1
	/usr/bin/python3 - "$1.p7" "${2:-}" <<'PY'
import sys
der = open(sys.argv[1], "rb").read()
oid = bytes.fromhex("060a2b06010401823702010c")  # 1.3.6.1.4.1.311.2.1.12
def tlv(b, i):  # (tag, start of value, end of value)
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, i, i + n
tag, v, e = tlv(der, der.index(oid) + len(oid))  # the SET of values
assert tag == 0x31
opus = der[v:e]
if sys.argv[2] != "name":
    print(opus.hex())
    sys.exit(0)
tag, v, e = tlv(opus, 0)
assert tag == 0x30, "not a SEQUENCE"
tag, v, e = tlv(opus, v)
assert tag == 0xa0, "no [0] programName"
tag, v, e = tlv(opus, v)
assert tag == 0x80, "programName is not [0] unicode (BMPString)"
sys.stdout.write(opus[v:e].decode("utf-16-be"))
PY
}
name='Zeiterfassung für Bäcker – Pro'
sign rsa pe64.exe umlaut.exe --description "$name" --url https://example.com/x
ok $? "a non-ASCII --description signs"
verify umlaut.exe
ok $? "and osslsigncode verifies it"
is "$(opus_info umlaut.exe name)" "$name" "the signed program name is exactly the UTF-8 description"
like "$(grep 'URL description' verify.out)" 'https://example\.com/x$' "and the URL is kept"
long=$(printf 'Ä%.0s' $(seq 1000))$(printf 'b%.0s' $(seq 1000))
sign rsa pe64.exe long.exe --description "$long" --url https://example.com/x
verify long.exe
ok $? "a 2,000-character description signs and verifies"
got=$(opus_info long.exe name)
is "${#got}" 2000 "and is kept whole (2,000 characters)"
check "character for character" test "$got" = "$long"
# ASCII keeps the shape Windows' signtool writes, byte for byte as before:
# [0] { [0] BMPString } and [1] { [0] IA5String }.
sign rsa pe64.exe ascii.exe --description Ab --url http://e.x
is "$(opus_info ascii.exe)" "3016a006800400410062a10c800a687474703a2f2f652e78" "an ASCII description and URL encode as before"
out=$(sign rsa pe64.exe emoji.exe --description "Clock $(printf '\xf0\x9f\x95\x90')" 2>&1)
is "$?" 1 "a character outside the BMP is refused"
like "$out" "outside the Basic Multilingual Plane" "with a reason"
check "and no output is left" test ! -e emoji.exe
out=$(sign rsa pe64.exe badurl.exe --url "https://example.com/$(printf '\xc3\xa4')" 2>&1)
is "$?" 1 "a non-ASCII URL is refused (an IA5String holds ASCII only)"
like "$out" "--url: only ASCII" "with a reason"

# Bad input: a reason, no crash, nothing written.
head -c 300 pe64.exe >trunc.exe
out=$(sign rsa trunc.exe out-trunc.exe 2>&1)
is "$?" 1 "a truncated PE is refused"
like "$out" "trunc.exe: truncated" "with a reason naming the file"
check "and no output is left" test ! -e out-trunc.exe
cp pe64.exe liar.exe
printf '\xff\xff\x00\x00' | dd of=liar.exe bs=1 seek=60 conv=notrunc 2>/dev/null
out=$(sign rsa liar.exe out-liar.exe 2>&1)
like "$out" "PE header offset" "a header offset past the file is refused"
cp pe64.exe badcert.exe
/usr/bin/python3 - badcert.exe <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
pe = struct.unpack_from("<I", b, 0x3c)[0]
magic = struct.unpack_from("<H", b, pe + 24)[0]
dirs = pe + 24 + (112 if magic == 0x20b else 96)
struct.pack_into("<II", b, dirs + 32, len(b) + 4096, 64)
open(sys.argv[1], "wb").write(b)
PY
out=$(sign rsa badcert.exe out-bad.exe 2>&1)
like "$out" "certificate table .* does not end the file" "a certificate table outside the file is refused"
printf 'MZ' >tiny.exe
out=$(sign rsa tiny.exe out-tiny.exe 2>&1)
like "$out" "tiny.exe: not a PE file" "a two-byte file is refused"

# Memory does not grow with the input: a 64 MB PE. (The binary itself, not
# the valgrind wrapper on PATH: this measures its RSS.)
# (the program with 64 MB of payload after its last section)
{ cat pe64.exe; head -c 67108864 /dev/urandom; } >big.exe
rss=$( { /usr/bin/time -f '%M' "$CSOD_BIN/csod-sign" --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" big.exe big-signed.exe; } 2>&1 | tail -1)
verify big-signed.exe
ok $? "a 64 MB PE signs and verifies"
diag "peak RSS signing a 64 MB PE: $rss KB"
[ "${CSOD_SAN:-0}" = 1 ] || [ "$rss" -lt 65536 ]
ok $? "peak RSS stays below the input's size"

# An output that exists and is no regular file (a FIFO here; as root,
# /dev/null) is refused, not replaced by the rename into place.
mkfifo out.fifo
out=$(run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" pe64.exe out.fifo 2>&1)
rc=$?
ok $((rc == 0)) "an output that is a FIFO is refused ($rc)"
like "$out" "out.fifo: exists and is not a regular file" "... with the reason"
check "the FIFO is still a FIFO" test -p out.fifo

# Through the daemon.
write_config
start_daemon || exit 1
cp pe64.exe "$SPOOL/inbox/$DEV/.app.exe.tmp"
mv "$SPOOL/inbox/$DEV/.app.exe.tmp" "$SPOOL/inbox/$DEV/app.exe"
wait_state app.exe signed 60
ok $? "a dropped EXE is signed by csodd"
osslsigncode verify -CAfile "$SPOOL/ca/ca.pem" -in "$(request_dir app.exe)/app.exe" >verify.out 2>&1
ok $? "and osslsigncode verifies it against the local CA"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
