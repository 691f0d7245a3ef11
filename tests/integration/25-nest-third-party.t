#!/bin/bash
# --nest onto someone else's Authenticode signature: PE (mingw), CAB (gcab)
# and MSI (wixl) signed first by osslsigncode with a throwaway third-party
# CA, then nested by csod with its own PKI; a PE with two WIN_CERTIFICATE
# entries (made here) and Debian's shimx64.efi.signed (Microsoft's 2011 and
# 2023 signers) keep every entry. Judged by osslsigncode verify, sbverify
# and an independent parse of the attribute certificate table. Also through
# the daemon (request.conf append = true).
. "$(dirname "$0")/lib.sh"
command -v x86_64-w64-mingw32-gcc >/dev/null || skip_all "mingw-w64 not installed"
command -v osslsigncode >/dev/null || skip_all "osslsigncode not installed"
PKI=$T_DIR/pki
make_pki "$PKI"
cd "$T_DIR"

# Two unrelated third parties, each a root and a code-signing leaf.
third_party() { # third_party NAME
	local q='-noenc'
	openssl req -x509 -newkey rsa:2048 $q -keyout "$1-root.key" -out "$1-root.pem" -days 30 \
		-subj "/CN=$1 Root" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign" 2>/dev/null &&
		openssl req -new -newkey rsa:2048 $q -keyout "$1.key" -out "$1.csr" \
			-subj "/CN=$1 Publisher" 2>/dev/null &&
		printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n' >"$1.cnf" &&
		openssl x509 -req -in "$1.csr" -CA "$1-root.pem" -CAkey "$1-root.key" -CAcreateserial \
			-days 30 -extfile "$1.cnf" -out "$1.pem" 2>/dev/null
}
check "a third-party CA is made" third_party Vendor
check "and a second one" third_party Other
cat Vendor-root.pem "$PKI/root.pem" >vendor-and-ours.pem

sign() { # sign IN OUT [more csod-sign options]
	local in=$1 out=$2
	shift 2
	run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" "$@" "$in" "$out"
}
verify() { # verify FILE CAFILE
	osslsigncode verify -CAfile "$2" -in "$1" >"$T_DIR/verify.out" 2>&1
}
nsig() { grep -o 'Number of verified signatures: [0-9]*' "$T_DIR/verify.out" | grep -o '[0-9]*$'; }
# The signer of signature index N in verify.out.
signer_of() { sed -n "/^Signature Index: $1/,/^Signature Index: $(($1 + 1))/p" "$T_DIR/verify.out" | grep -m1 'Subject:'; }

# The attribute certificate table, parsed independently of csod.
cat >pecerts.py <<'PY'
import hashlib, struct, sys

def load(path):
    d = bytearray(open(path, "rb").read())
    pe = struct.unpack_from("<I", d, 0x3C)[0]
    magic = struct.unpack_from("<H", d, pe + 24)[0]
    cdir = pe + 24 + (112 if magic == 0x20B else 96) + 32
    return d, pe + 24 + 64, cdir

def entries(d, cdir):
    off, size = struct.unpack_from("<II", d, cdir)
    out, p = [], off
    while p < off + size:
        n, rev, typ = struct.unpack_from("<IHH", d, p)
        assert n >= 8 and p + n <= off + size, "entry runs past the table"
        out.append((p, n, typ))
        p += (n + 7) & ~7
    return off, size, out

def checksum(d, field):
    d = bytearray(d)
    d[field:field + 4] = b"\0\0\0\0"
    s = 0
    for (w,) in struct.iter_unpack("<H", d + b"\0" * (len(d) % 2)):
        s += w
        s = (s & 0xFFFF) + (s >> 16)
    return s + len(d)

def save(d, field, path):
    struct.pack_into("<I", d, field, checksum(d, field))
    open(path, "wb").write(d)

cmd, path = sys.argv[1], sys.argv[2]
d, field, cdir = load(path)
if cmd == "list":  # one line per entry: type, length, sha256 of its bytes
    off, size, es = entries(d, cdir)
    for p, n, typ in es:
        print(typ, n, hashlib.sha256(d[p:p + n]).hexdigest())
elif cmd == "layout":  # exit 0 if the table ends the file and every entry is 8-aligned
    off, size, es = entries(d, cdir)
    sys.exit(0 if off + size == len(d) and all(p % 8 == 0 for p, n, t in es) else 1)
elif cmd == "checksum":  # exit 0 if the PE checksum is right
    sys.exit(0 if struct.unpack_from("<I", d, field)[0] == checksum(d, field) else 1)
elif cmd == "only":  # only FILE INDEX OUT: a copy whose table is that entry alone
    off, size, es = entries(d, cdir)
    p, n, typ = es[int(sys.argv[3])]
    e = d[p:p + ((n + 7) & ~7)]
    d = d[:off] + e
    struct.pack_into("<II", d, cdir, off, len(e))
    save(d, field, sys.argv[4])
elif cmd == "append":  # append FILE DER OUT: one more WIN_CERTIFICATE
    der = open(sys.argv[3], "rb").read()
    off, size, es = entries(d, cdir)
    e = struct.pack("<IHH", 8 + len(der), 0x200, 2) + der
    e += b"\0" * (-len(e) % 8)
    d = d[:off + size] + e
    struct.pack_into("<II", d, cdir, off, size + len(e))
    save(d, field, sys.argv[4])
elif cmd == "settype":  # settype FILE TYPE OUT: the first entry's wCertificateType
    off, size, es = entries(d, cdir)
    struct.pack_into("<H", d, es[0][0] + 6, int(sys.argv[3]))
    save(d, field, sys.argv[4])
PY
pecerts() { /usr/bin/python3 "$T_DIR/pecerts.py" "$@"; }

# --- PE, CAB, MSI signed by a third party first ---
printf '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n' >hello.c
x86_64-w64-mingw32-gcc -O1 -o app.exe hello.c
echo "hello from csod" >hello.txt
gcab -c app.cab hello.txt
cat >app.wxs <<'WXS'
<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="Nest" Language="1033" Version="1.0.0" Manufacturer="Vendor"
           UpgradeCode="7d4b3c2a-1111-4a5b-9c8d-0123456789ab">
    <Package InstallerVersion="200" Compressed="yes"/>
    <Media Id="1" Cabinet="app.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir"><Directory Id="ProgramFilesFolder">
      <Directory Id="D" Name="Nest">
        <Component Id="C" Guid="7d4b3c2a-2222-4a5b-9c8d-0123456789ab"><File Id="F" Source="hello.txt"/></Component>
      </Directory></Directory></Directory>
    <Feature Id="Main" Level="1"><ComponentRef Id="C"/></Feature>
  </Product>
</Wix>
WXS
wixl -o app.msi app.wxs
for f in app.exe app.cab app.msi; do
	osslsigncode sign -certs Vendor.pem -key Vendor.key -h sha256 -in "$f" -out "vendor-$f" >/dev/null
	ok $? "osslsigncode signs $f with the third party's key"
	out=$(sign "vendor-$f" "nested-$f" --nest 2>&1)
	ok $? "csod-sign --nest onto the third party's signature ($f) ${out:+: $out}"
	verify "nested-$f" vendor-and-ours.pem
	ok $? "osslsigncode verifies the nested $f against both roots"
	is "$(nsig)" 2 "with both signatures"
	like "$(signer_of 0)" "CN=Vendor Publisher" "the third party's stays primary ($f)"
	like "$(signer_of 1)" "CN=Dagwood Bumstead" "ours is nested in it ($f)"
	# Ours is still checked in full: without the chain to our root it fails.
	out=$(run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --nest "vendor-$f" "nochain-$f" 2>&1)
	like "$out" "self-check: the signing certificate does not chain" \
		"our own nested signature must still chain to our root ($f)"
	check "and nothing is written" test ! -e "nochain-$f"
done
sign vendor-app.exe twice.exe --nest --digest sha1 --digest sha512
verify twice.exe vendor-and-ours.pem
is "$(nsig)" 3 "two digests of ours nest beside the third party's"

# A first entry that is no PKCS#7 signature cannot take ours: refused.
pecerts settype vendor-app.exe 1 x509type.exe
out=$(sign x509type.exe out-x509type.exe --nest 2>&1)
like "$out" "x509type.exe: certificate table entry 1 is not a PKCS#7 signature \(type 1\)" \
	"a first certificate of another type is refused with a reason"

# --- two WIN_CERTIFICATE entries: every one is kept ---
osslsigncode sign -certs Other.pem -key Other.key -h sha256 -in app.exe -out other-app.exe >/dev/null
osslsigncode extract-signature -in other-app.exe -out other.der >/dev/null
pecerts append vendor-app.exe other.der dual.exe
is "$(pecerts list dual.exe | wc -l)" 2 "a PE with two attribute certificates is made"
for v in "" --no-verify; do
	out=$(sign dual.exe "nested-dual$v.exe" --nest $v 2>&1)
	ok $? "csod-sign --nest${v:+ $v} on it ${out:+: $out}"
	is "$(pecerts list "nested-dual$v.exe" | wc -l)" 2 "both entries are there ($v)"
	is "$(pecerts list "nested-dual$v.exe" | sed -n 2p)" "$(pecerts list dual.exe | sed -n 2p)" \
		"the second is the input's, byte for byte ($v)"
done
check "the table ends the file, every entry 8-byte aligned" pecerts layout nested-dual.exe
check "the PE checksum is right" pecerts checksum nested-dual.exe
pecerts only nested-dual.exe 0 first.exe
verify first.exe vendor-and-ours.pem
ok $? "the first entry verifies: the vendor's signature with ours nested"
is "$(nsig)" 2 "two signatures in it"
like "$(signer_of 1)" "CN=Dagwood Bumstead" "ours among them"
pecerts only nested-dual.exe 1 second.exe
verify second.exe Other-root.pem
ok $? "the second entry still verifies against its own root"
like "$(signer_of 0)" "CN=Other Publisher" "as the other third party's"
if command -v sbverify >/dev/null; then
	l=$(sbverify --list nested-dual.exe 2>&1)
	like "$l" "signature 2" "sbverify lists two signatures"
	like "$l" "CN=Vendor Root" "the vendor's"
	like "$l" "CN=Other Root" "and the other's"
fi
# Replacing (no --nest) replaces every signature, as documented.
sign dual.exe replaced-dual.exe
is "$(pecerts list replaced-dual.exe | wc -l)" 1 "re-signing without --nest leaves one entry: ours"

# --- Debian's shim, signed by Microsoft twice ---
SHIM=/usr/lib/shim/shimx64.efi.signed
if [ -f "$SHIM" ]; then
	cp "$SHIM" shimx64.efi.signed
	n=$(pecerts list shimx64.efi.signed | wc -l)
	diag "shimx64.efi.signed has $n attribute certificate entries"
	for v in "" --no-verify; do
		out=$(sign shimx64.efi.signed "shim$v.efi.signed" --nest $v 2>&1)
		ok $? "csod-sign --nest${v:+ $v} on shimx64.efi.signed ${out:+: $out}"
		is "$(pecerts list "shim$v.efi.signed" | wc -l)" "$n" "every entry is kept ($v)"
		is "$(pecerts list "shim$v.efi.signed" | sed 1d)" "$(pecerts list shimx64.efi.signed | sed 1d)" \
			"the entries after the first are Microsoft's, byte for byte ($v)"
	done
	check "the shim's table ends the file, entries aligned" pecerts layout shim.efi.signed
	check "and its PE checksum is right" pecerts checksum shim.efi.signed
	if command -v sbverify >/dev/null; then
		l=$(sbverify --list shim.efi.signed 2>&1)
		like "$l" "Microsoft Corporation UEFI CA 2011" "sbverify still lists the 2011 signer"
		[ "$n" -lt 2 ] || like "$l" "Microsoft UEFI CA 2023" "and the 2023 signer"
	fi
	pecerts only shim.efi.signed 0 shim-first.efi
	verify shim-first.efi "$PKI/root.pem"
	like "$(signer_of 0)" "Microsoft Windows UEFI Driver Publisher" "Microsoft's signature stays primary"
	like "$(signer_of 1)" "CN=Dagwood Bumstead" "ours is nested in it"
	sed -n '/^Signature Index: 1/,$p' verify.out | grep -q "Signature verification: ok"
	ok $? "and osslsigncode verifies ours there"
	cur=$(grep -m1 'Current message digest' verify.out | awk '{print $NF}')
	calc=$(grep -m1 'Calculated message digest' verify.out | awk '{print $NF}')
	is "$cur" "$calc" "Microsoft's image hash still matches the file"
fi

# --- through the daemon: request.conf append = true ---
write_config
start_daemon || exit 1
mkdir "$SPOOL/inbox/$DEV/nest"
cp vendor-app.exe "$SPOOL/inbox/$DEV/nest/app.exe"
printf 'append = true;\n' >"$SPOOL/inbox/$DEV/nest/request.conf"
touch "$SPOOL/inbox/$DEV/nest/READY"
wait_state nest signed 60
ok $? "csodd nests onto the third party's signature (append = true)"
cat Vendor-root.pem "$SPOOL/ca/ca.pem" >vendor-and-local.pem
verify "$(request_dir nest)/app.exe" vendor-and-local.pem
ok $? "osslsigncode verifies the daemon's output"
is "$(nsig)" 2 "with both signatures"
like "$(signer_of 0)" "CN=Vendor Publisher" "the third party's primary"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
