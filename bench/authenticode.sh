#!/bin/bash
# Authenticode: csod-sign against osslsigncode sign on a ~100 KB PE, a 100 MB
# PE, a 112 KB MSI, a 2 MB compressed CAB, a 100 MB CAB, a 3,000-member
# security catalog, a 4 MB MSIX package and a 1 MB PowerShell script;
# `openssl dgst -sha256` + one copy of the file as the hashing limit on the
# large PE.
. "$(dirname "$0")/lib.sh"
cd "$WORK"
sh "$BENCH_TOP/tests/fixtures/mkpki.sh" pki >/dev/null

cat >small.c <<'C'
#include <stdio.h>
static const char pad[96 * 1024] = {1};
int main(void) { printf("%d\n", pad[0]); return 0; }
C
x86_64-w64-mingw32-gcc -O1 -o small.exe small.c
# 100 MB: the small program with 100 MB of data after its last section (an
# installer's payload); Authenticode hashes it like any other byte.
{ cat small.exe; head -c 104857600 /dev/urandom; } >large.exe
mkdir -p cabsrc && head -c 2000000 /dev/urandom >cabsrc/data.bin && gcab -c -z app.cab cabsrc/data.bin
tail -c 104857600 large.exe >cabsrc/payload.bin && gcab -c large.cab cabsrc/payload.bin
cat >app.wxs <<'WXS'
<?xml version="1.0"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
 <Product Id="*" Name="csod bench" Language="1033" Version="1.0.0" Manufacturer="csod" UpgradeCode="8f6c1a54-2f0e-4a59-a3f8-3c1a6ef5b0d1">
  <Package InstallerVersion="200" Compressed="yes"/>
  <Media Id="1" Cabinet="app.cab" EmbedCab="yes"/>
  <Directory Id="TARGETDIR" Name="SourceDir"><Directory Id="ProgramFilesFolder"><Directory Id="D" Name="csodbench">
   <Component Id="C" Guid="5b1f4f0e-6a57-4f5c-9a0e-6d2f4d1f8a11"><File Id="F" Source="small.exe"/></Component>
  </Directory></Directory></Directory>
  <Feature Id="Main" Level="1"><ComponentRef Id="C"/></Feature>
 </Product>
</Wix>
WXS
wixl -o app.msi app.wxs 2>/dev/null || echo "wixl failed; MSI skipped"
# A security catalog of 3,000 members (~0.8 MB, a large driver package's).
mkdir -p catsrc && for i in $(seq 1 3000); do echo "$i" >"catsrc/f$i.sys"; done
/usr/bin/python3 "$BENCH_TOP/tests/fixtures/mkcat.py" driver.cat catsrc/*.sys
# An MSIX package of 4 MB stored (a 4 MB program and a small asset), made
# like tests/integration/39-sign-msix.t: its publisher is the bench
# certificate's subject, which csod-sign requires.
/usr/bin/python3 "$BENCH_TOP/tests/fixtures/mkmsix.py" msixsrc \
	"CN=Dagwood Bumstead, OU=Software Development, O=Dithers Construction Company, C=US" \
	app.bin=4000000 Assets/logo.bin=100 &&
	(cd msixsrc && zip -q -X -0 -D ../app.msix app.bin Assets/logo.bin AppxManifest.xml \
		AppxBlockMap.xml '[Content_Types].xml') || echo "mkmsix.py failed; MSIX skipped"
# A 1 MB PowerShell script (CRLF lines, as Windows editors write them).
awk 'BEGIN { for (i = 1; i <= 22000; i++) printf "Write-Host \"csod bench line %06d of the script\"\r\n", i }' >app.ps1

table_header "Authenticode: csod-sign vs osslsigncode sign (RSA-3072, SHA-256)"
for f in small.exe large.exe app.msi app.cab large.cab driver.cat app.msix app.ps1; do
	[ -f "$f" ] || continue
	ours=$(MEASURE_OUT="out-$f" measure authenticode "$f" csod-sign \
		"$BIN/csod-sign" --cert pki/rsa.pem --key pki/rsa.key --chain pki/chain.pem "$f" "out-$f") || exit 1
	read -r ours ours_rss <<<"$ours"
	peer=$(MEASURE_OUT="peer-$f" measure authenticode "$f" osslsigncode \
		osslsigncode sign -certs pki/rsa.pem -key pki/rsa.key -ac pki/chain.pem -h sha256 \
		-in "$f" -out "peer-$f") || exit 1
	read -r peer peer_rss <<<"$peer"
	rm -f "peer-$f"
	row authenticode "$f ($(du -h "$f" | cut -f1))" "$ours" "$ours_rss" osslsigncode "$peer" "$peer_rss" "≤ 1.0×, RSS < 32 MB"
done
dgst=$(MEASURE_OUT=copy.bin measure limit large.exe "dgst+copy" sh -c "openssl dgst -sha256 large.exe && cp large.exe copy.bin") || exit 1
read -r dgst dgst_rss <<<"$dgst"
ours=$(MEASURE_OUT=out-large.exe measure authenticode large.exe csod-sign \
	"$BIN/csod-sign" --cert pki/rsa.pem --key pki/rsa.key --chain pki/chain.pem large.exe out-large.exe) || exit 1
read -r ours ours_rss <<<"$ours"
row limit "large.exe vs hash+copy" "$ours" "$ours_rss" "openssl dgst + cp" "$dgst" "$dgst_rss" "≤ 1.3×"
