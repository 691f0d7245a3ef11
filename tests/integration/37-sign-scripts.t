#!/bin/bash
# Authenticode for scripts, made at test time: PowerShell (.ps1 in UTF-8
# with and without BOM, UTF-16LE, LF and CRLF; .psm1 .psd1 .ps1xml) judged
# by osslsigncode verify and compared with osslsigncode's own signatures
# both ways; VBScript, JScript and WSF (which osslsigncode 2.9 does not
# handle) judged by tests/fixtures/wsh_verify.py, written from the published
# rules. Tampering, re-signing, --nest, bad inputs; then through the daemon,
# dropped by a real Unix user.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
PKI=$T_DIR/pki
make_pki "$PKI"
WSH_VERIFY="/usr/bin/python3 $CSOD_TOP/tests/fixtures/wsh_verify.py"
cd "$T_DIR"

# The scripts: printf for exact bytes, iconv for UTF-16LE.
printf 'param($Name = "world")\nWrite-Host "hello $Name"\n' >lf.ps1
printf 'Write-Host "h\xc3\xa9llo \xf0\x9f\x98\x80"\r\n$x = 1\r\n' >crlf.ps1
printf '\xef\xbb\xbfWrite-Host "gr\xc3\xbc\xc3\x9f dich"\r\n' >bom.ps1
{ printf '\xff\xfe'; printf 'Write-Host "h\xc3\xa9llo"\r\nexit 0\r\n' | iconv -f UTF-8 -t UTF-16LE; } >u16.ps1
printf 'function Get-Answer { 42 }\r\nExport-ModuleMember -Function Get-Answer\r\n' >mod.psm1
printf '@{ ModuleVersion = "1.0"; RootModule = "mod.psm1" }\r\n' >data.psd1
printf '<?xml version="1.0" encoding="utf-8"?>\r\n<Types>\r\n</Types>\r\n' >types.ps1xml
printf 'WScript.Echo "hello"\r\n' >hello.vbs
{ printf '\xff\xfe'; printf 'MsgBox "h\xc3\xa9llo"\r\n' | iconv -f UTF-8 -t UTF-16LE; } >u16.vbs
printf 'WScript.Echo("hello");\n' >hello.js
printf '\xef\xbb\xbfWScript.Echo("h\xc3\xa9llo");\r\n' >bom.js
printf '<job id="main">\r\n<script language="JScript">WScript.Echo("hi");</script>\r\n</job>\r\n' >job.wsf

sign() { # sign IN OUT [more csod-sign options]
	local in=$1 out=$2
	shift 2
	run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" "$@" "$in" "$out"
}
verify() { osslsigncode verify -CAfile "$PKI/root.pem" -in "$1" >"$T_DIR/verify.out" 2>&1; }
nsig() { grep -o 'Number of verified signatures: [0-9]*' "$T_DIR/verify.out" | grep -o '[0-9]*$'; }
digest_of() { grep "$1 message digest" "$T_DIR/verify.out" | head -1 | awk '{print $NF}'; }
digest_matches() { [ -n "$(digest_of Current)" ] && [ "$(digest_of Current)" = "$(digest_of Calculated)" ]; }
# The text of FILE after the first LEN bytes, as UTF-8 (UTF-16LE when wide).
tail_text() {
	if [ "${3:-}" = wide ]; then tail -c +$(($2 + 1)) "$1" | iconv -f UTF-16LE -t UTF-8; else tail -c +$(($2 + 1)) "$1"; fi
}

# 1. PowerShell, every encoding and line ending: osslsigncode verifies ours.
for f in lf.ps1 crlf.ps1 bom.ps1 u16.ps1 mod.psm1 data.psd1 types.ps1xml; do
	sign "$f" "signed-$f"
	ok $? "$f signed"
	verify "signed-$f"
	ok $? "osslsigncode verifies the signed $f"
	digest_matches
	ok $? "and the script hash it computes is the signed one ($f)"
	check "the text of $f is unchanged before the block" cmp -n "$(stat -c %s "$f")" "$f" "signed-$f"
done
wide=
block=$(tail_text signed-lf.ps1 "$(stat -c %s lf.ps1)")
like "$(printf '%s' "$block" | head -2 | od -c | head -1)" '\\r +\\n +# +S +I +G' \
	"the block starts with CRLF and '# SIG # Begin signature block'"
is "$(printf '%s' "$block" | sed -n 2p)" $'# SIG # Begin signature block\r' "its first line, CRLF-ended"
is "$(printf '%s' "$block" | sed -n 3p | tr -d '\r\n' | wc -c)" 66 "base64 lines are '# ' and 64 characters"
is "$(printf '%s' "$block" | tail -1)" $'# SIG # End signature block\r' "its last line, CRLF-ended"
block=$(tail_text signed-u16.ps1 "$(stat -c %s u16.ps1)" wide)
is "$(printf '%s' "$block" | sed -n 2p)" $'# SIG # Begin signature block\r' \
	"a UTF-16LE script gets its block in UTF-16LE"
block=$(tail_text signed-types.ps1xml "$(stat -c %s types.ps1xml)")
is "$(printf '%s' "$block" | sed -n 2p)" $'<!-- SIG # Begin signature block -->\r' \
	".ps1xml gets its block in XML comments"
like "$(printf '%s' "$block" | sed -n 3p)" '^<!-- [A-Za-z0-9+/=]{64} -->' "one base64 line per comment"

# 2. The same as osslsigncode's own: the same hash, the same block lines;
# and ours accepts its signature (nesting checks every signature it keeps).
for f in crlf.ps1 u16.ps1 bom.ps1; do
	osslsigncode sign -certs "$PKI/rsa.pem" -key "$PKI/rsa.key" -ac "$PKI/chain.pem" \
		-in "$f" -out "theirs-$f" >/dev/null 2>&1
	verify "theirs-$f"
	theirs=$(digest_of Current)
	verify "signed-$f"
	is "$(digest_of Current)" "$theirs" "osslsigncode signs the same script hash for $f"
	[ "$f" = u16.ps1 ] && wide=wide || wide=
	is "$(tail_text "theirs-$f" "$(stat -c %s "$f")" $wide | sed -n '1,2p;$p' | od -c)" \
		"$(tail_text "signed-$f" "$(stat -c %s "$f")" $wide | sed -n '1,2p;$p' | od -c)" \
		"and lays its block out as we do ($f)"
	sign "theirs-$f" "both-$f" --nest
	ok $? "csod-sign --nest accepts osslsigncode's signature of $f (its self-check verifies it)"
	verify "both-$f"
	ok $? "osslsigncode verifies the doubly signed $f"
	is "$(nsig)" 2 "both signatures"
done

# 3. One changed character breaks the signature.
sed 's/hello/hellp/' signed-lf.ps1 >tampered.ps1
! verify tampered.ps1
ok $? "osslsigncode refuses a signed .ps1 with one character changed"
like "$(cat verify.out)" "MISMATCH|failed" "as a hash mismatch"

# 4. Re-signing replaces the block; --nest and several digests nest.
sign signed-crlf.ps1 resigned.ps1 --digest sha384
verify resigned.ps1
ok $? "re-signing a signed script verifies"
is "$(nsig)" 1 "with one signature: the old block was replaced"
like "$(grep 'Message digest algorithm  :' verify.out)" SHA384 "the new one"
is "$(grep -c 'SIG # Begin signature block' resigned.ps1)" 1 "one block in the file"
sign crlf.ps1 dual.ps1 --digest sha1,sha256
verify dual.ps1
ok $? "two digests at once verify"
is "$(nsig)" 2 "as two (nested) signatures"
sign dual.ps1 triple.ps1 --nest --digest sha512
verify triple.ps1
is "$(nsig)" 3 "--nest keeps both and adds ours"

# A timestamp from the loopback TSA.
start_loopback_tsa || fail "the loopback TSA starts"
sign mod.psm1 stamped.psm1 --timestamp-ca "$TSA/tsaroot.pem" --timestamp "$TSA_URL"
ok $? "a .psm1 signed with a timestamp"
osslsigncode verify -CAfile "$PKI/root.pem" -TSA-CAfile "$TSA/tsaroot.pem" -in stamped.psm1 >verify.out 2>&1
ok $? "osslsigncode verifies it"
like "$(cat verify.out)" "Timestamp Server Signature verification: ok" "including the timestamp"
kill $TSA_PID 2>/dev/null
wait $TSA_PID 2>/dev/null

# 5. VBScript, JScript, WSF: verified by the independent checker.
osslsigncode sign -certs "$PKI/rsa.pem" -key "$PKI/rsa.key" -in hello.vbs -out theirs.vbs >/dev/null 2>&1 ||
	diag "osslsigncode $(osslsigncode --version 2>/dev/null | head -1 | awk '{print $2}' | tr -d ,) cannot sign .vbs/.js/.wsf: checked by wsh_verify.py"
for f in hello.vbs u16.vbs hello.js bom.js job.wsf; do
	sign "$f" "signed-$f"
	ok $? "$f signed"
	out=$($WSH_VERIFY "signed-$f" "$PKI/root.pem")
	ok $? "the signature of $f verifies: $out"
done
is "$(sed -n 3p signed-hello.vbs)" $'\'\' SIG \'\' Begin signature block\r' "VBScript's block is in '' comments"
is "$(sed -n 3p signed-hello.js)" $'// SIG // Begin signature block\r' "JScript's in // comments"
is "$(tail -2 signed-job.wsf | tr -d '\r')" $'</signature>\n</job>' "WSF's goes right before </job>"
like "$(sed -n 5p signed-job.wsf)" '^\*\* SIG \*\* [A-Za-z0-9+/=]+' "as ** SIG ** lines"
sed 's/hello/hellp/' signed-hello.vbs >tampered.vbs
out=$($WSH_VERIFY tampered.vbs "$PKI/root.pem")
is "$?" 1 "a .vbs with one character changed does not verify"
like "$out" "script hash" "the hash differs"
sign signed-job.wsf resigned.wsf
check "a re-signed .wsf verifies" $WSH_VERIFY resigned.wsf "$PKI/root.pem"
is "$(grep -c '<signature>' resigned.wsf)" 1 "with one block"
sign signed-hello.js nested.js --nest
check "--nest on a .js verifies" $WSH_VERIFY nested.js "$PKI/root.pem"

# 6. Bad input: a one-line reason naming the file, nothing written.
refused() { # refused FILE PATTERN DESCRIPTION
	local out rc
	out=$(sign "$1" "out-$1" 2>&1)
	rc=$?
	is "$rc" 1 "$3 is refused"
	like "$out" "^csod-sign: $1: .*$2" "saying why"
	is "$(printf '%s\n' "$out" | wc -l)" 1 "in one line"
	check "and no output is left" test ! -e "out-$1"
}
head -c 3000 /dev/urandom >binary.ps1
printf 'MZ\x90\x00\x03\x00' >pe.ps1
refused binary.ps1 "binary content|not valid UTF-8" "random bytes named .ps1"
refused pe.ps1 "binary content \(a NUL at byte 3\)" "a PE header named .ps1"
printf 'Write-Host "caf\xe9"\r\n' >latin1.ps1
refused latin1.ps1 "not valid UTF-8 at byte 15" "Latin-1 text"
printf '\xfe\xffx' >be.ps1
refused be.ps1 "UTF-16 big-endian" "UTF-16BE text"
head -c 1500 signed-lf.ps1 >truncated.ps1
refused truncated.ps1 "no end line .*truncated" "a truncated signature block"
sed '5s/^# ..../# @@@@/' signed-lf.ps1 >garbled.ps1
refused garbled.ps1 "line 2 of the signature block is not a base64 line" "a garbled signature block"
sed '5s/^# ..../# AAAA/' signed-lf.ps1 >notpkcs7.ps1
refused notpkcs7.ps1 "does not hold a PKCS#7 signature" "base64 that is no PKCS#7"
{ cat signed-lf.ps1; echo 'Write-Host "appended"'; } >appended.ps1
refused appended.ps1 "text follows the signature block" "text after the block"
printf 'MsgBox "h\xc3\xa9llo"\r\n' >ansi.vbs
refused ansi.vbs "non-ASCII text without a byte order mark" "non-ASCII VBScript without BOM"
printf '<job>\r\n<script language="JScript"></script>\r\n' >nojob.wsf
refused nojob.wsf "no </job>" "a .wsf without </job>"
truncate -s 65M huge.ps1
refused huge.ps1 "scripts over 64 MiB are not signed" "a 65 MiB script"

# 7. Through the daemon, dropped by a real Unix user, auto-approved.
DEV=csodt-scr$$
useradd -M -N -s /usr/sbin/nologin "$DEV" || exit 1
trap 'stop_loopback_tsa; userdel "$DEV" 2>/dev/null; cleanup' EXIT
chmod 755 "$T_DIR"
chmod 644 "$T_DIR"/*.ps1 "$T_DIR"/*.vbs "$T_DIR"/*.wsf
write_config
start_daemon || exit 1
drop() { runuser -u "$DEV" -- sh -c "cp '$T_DIR/$1' '$SPOOL/inbox/$DEV/.$2.tmp' && mv '$SPOOL/inbox/$DEV/.$2.tmp' '$SPOOL/inbox/$DEV/$2'"; }
drop u16.ps1 deploy.ps1
drop hello.vbs logon.vbs
drop job.wsf setup.wsf
drop binary.ps1 broken.ps1
for f in deploy.ps1 logon.vbs setup.wsf; do
	wait_state "$f" signed 60
	ok $? "a dropped $f is signed by csodd"
done
osslsigncode verify -CAfile "$SPOOL/ca/ca.pem" -in "$(request_dir deploy.ps1)/deploy.ps1" >verify.out 2>&1
ok $? "osslsigncode verifies the daemon's .ps1 against the local CA"
digest_matches
ok $? "with the hash it computes"
check "the daemon's .vbs verifies" $WSH_VERIFY "$(request_dir logon.vbs)/logon.vbs" "$SPOOL/ca/ca.pem"
check "the daemon's .wsf verifies" $WSH_VERIFY "$(request_dir setup.wsf)/setup.wsf" "$SPOOL/ca/ca.pem"
like "$(cat "$(request_dir logon.vbs)/request.json")" '"engine": "vbscript"' \
	"request.json names the vbscript engine"
wait_state broken.ps1 failed 60
ok $? "a binary .ps1 dropped in the inbox fails"
like "$(cat "$(request_dir broken.ps1)/ERROR" 2>/dev/null)" "broken.ps1: (binary content|not valid UTF-8)" \
	"and ERROR says why"
check "csodd keeps running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
