#!/bin/bash
# Hash files of several lines, as sha256sum and md5sum --tag write them for
# several files (a SHA256SUMS list): each line names a file and gets a
# signature of its own, "<name>.p7s", judged by openssl cms against that
# file; with csod-sign into a folder and through the daemon. A list with a
# line that names no file, a path, a name twice, or an escaped name is
# refused naming the first bad line, and nothing is written.
. "$(dirname "$0")/lib.sh"
PKI=$T_DIR/pki
make_pki "$PKI"
cd "$T_DIR"
head -c 5000 /dev/urandom >a.bin
head -c 7000 /dev/urandom >"b c.bin"
head -c 3000 /dev/urandom >setup.exe
sign() { # sign IN OUT [options]
	local in=$1 out=$2
	shift 2
	run_tool csod-sign --cert "$PKI/rsa.pem" --key "$PKI/rsa.key" --chain "$PKI/chain.pem" "$@" "$in" "$out" 2>&1
}
cms_ok() { # cms_ok P7S ORIGINAL [CA]
	openssl cms -verify -binary -inform DER -in "$1" -content "$2" -CAfile "${3:-$PKI/root.pem}" \
		-purpose any -out /dev/null 2>/dev/null
}

# A SHA256SUMS list (no extension: --service hash).
sha256sum a.bin "b c.bin" setup.exe >SHA256SUMS
mkdir out
out=$(sign SHA256SUMS out --service hash)
ok $? "a list of three sha256sum lines is signed"
is "$(cd out && ls | sort | tr '\n' '|')" "a.bin.p7s|b c.bin.p7s|setup.exe.p7s|" \
	"into one signature per line, named after the line's file"
for f in a.bin "b c.bin" setup.exe; do
	check "openssl cms verifies $f.p7s against $f" cms_ok "out/$f.p7s" "$f"
done
! cms_ok out/a.bin.p7s setup.exe
ok $? "and a line's signature does not verify against another line's file"

# md5sum --tag and sha1sum lines mixed, blank lines and CRLF ends, in a .txt.
{ md5sum --tag a.bin; echo; sha1sum "b c.bin"; sha512sum --tag setup.exe; } | sed 's/$/\r/' >release.txt
mkdir out2
sign release.txt out2 >/dev/null
ok $? "a .txt list of MD5 (--tag), SHA-1 and SHA-512 (--tag) lines with CRLF and a blank line"
for f in a.bin "b c.bin" setup.exe; do
	check "$f.p7s verifies" cms_ok "out2/$f.p7s" "$f"
done
like "$(openssl cms -cmsout -print -inform DER -in out2/setup.exe.p7s)" "sha512" \
	"each line is signed with its own digest's algorithm (SHA-512 for setup.exe)"

# OUT must be a folder.
out=$(sign SHA256SUMS one.p7s --service hash)
is "$?" 1 "a list into one OUT file is refused"
like "$out" "SHA256SUMS: lists 3 files, each signed into a file of its own \\(NAME.p7s\\): give a folder as OUT" \
	"saying why"
check "nothing is written" test ! -e one.p7s

# Refusals name the first bad line; nothing is written.
h=$(sha256sum a.bin | cut -c1-64)
refused() { # refused NAME CONTENT PATTERN DESCRIPTION
	printf '%b' "$2" >"$1"
	rm -rf bad && mkdir bad
	local out rc
	out=$(sign "$1" bad)
	rc=$?
	is "$rc" 1 "$4: refused"
	like "$out" "$3" "$4: with the line and the reason"
	is "$(printf '%s\n' "$out" | wc -l)" 1 "$4: on one line"
	is "$(ls -A bad)" "" "$4: nothing written"
}
refused bare.sha256 "$h  a.bin\n\n$h\n" "bare.sha256: line 3: names no file, and the file holds more than one digest" \
	"a line without a file name"
refused bare2.sha256 "$h\n$h\n" "bare2.sha256: line 1: names no file" "two bare digests"
refused path.sha256 "$h  a.bin\n$h  dist/setup.exe\n" "path.sha256: line 2: names a path \\(dist/setup.exe\\)" \
	"a path"
refused dots.sha256 "$h  ..\n$h  a.bin\n" "dots.sha256: line 1: names '..', which is no file" "'..'"
refused twice.sha256 "$h  a.bin\n$h  setup.exe\n$h  a.bin\n" "twice.sha256: line 3: names a.bin again \\(line 1\\)" \
	"a name twice"
refused tab.sha256 "$h  a\tb\n$h  a.bin\n" 'tab.sha256: line 1: the file name a\\tb holds a control character' \
	"a control character"
refused mixed.sha256 "$h  a.bin\n$(sha1sum setup.exe | cut -c1-40)  setup.exe\n" \
	"mixed.sha256: line 2: holds a 40-digit digest, which is sha1, not sha256" \
	"a SHA-1 line in a .sha256 list"
touch 'back\slash'
sha256sum a.bin 'back\slash' >escaped.sha256
like "$(sed -n 2p escaped.sha256)" '^\\' "sha256sum escapes a name holding a backslash"
out=$(sign escaped.sha256 bad)
like "$out" "escaped.sha256: line 2: an escaped file name" "which is refused, naming the line"
out=$(sign SHA256SUMS out --service hash --digest sha1)
is "$?" 1 "--digest sha1 on a SHA-256 list is refused"
like "$out" "SHA256SUMS: a.bin.p7s: holds a sha256 digest, which is signed as given" "naming the line's file"

# Through the daemon: a list dropped as release.sha256.
RETENTION=8s write_config
start_daemon || exit 1
cp SHA256SUMS release.sha256
drop_by_rename release.sha256
wait_state release.sha256 signed
ok $? "a dropped list is signed by csodd"
dir=$(request_dir release.sha256)
for f in a.bin "b c.bin" setup.exe; do
	check "$f.p7s is in the outbox and verifies against $f" verify_p7s "$dir/$f.p7s" "$f"
done
check "no release.sha256.p7s" test ! -e "$dir/release.sha256.p7s"
is "$(/usr/bin/python3 -c 'import json,sys; print("|".join(json.load(open(sys.argv[1]))["files"][0]["signed"]))' "$dir/request.json")" \
	"a.bin.p7s|b c.bin.p7s|setup.exe.p7s" "request.json lists the signatures, in the order of the lines"
id=$(dir_id "$dir")
check "the developer's mail names each signature" \
	sh -c "grep -l '$id' '$SPOOL'/mail/*.eml | xargs grep -l 'b c.bin.p7s' | xargs grep -q 'setup.exe.p7s'"

# A folder whose list names a file another file's signature is named after.
mkdir "$SPOOL/inbox/$DEV/clash"
sha256sum a.bin >"$SPOOL/inbox/$DEV/clash/x.sha256"
printf '%s  x.sha256\n%s  a.bin\n' "$h" "$h" >"$SPOOL/inbox/$DEV/clash/list.sha256"
touch "$SPOOL/inbox/$DEV/clash/READY"
wait_state clash failed
ok $? "two files signed into one name fail the request"
like "$(cat "$(request_dir clash)/ERROR")" "two files of the request would be signed into x.sha256.p7s" \
	"naming the clash"
# A bad list fails at intake, naming its line.
printf '%s  a.bin\n%s  ../etc/passwd\n' "$h" "$h" >"$T_DIR/evil.sha256"
drop_by_rename evil.sha256
wait_state evil.sha256 failed
ok $? "a list naming a path fails"
like "$(cat "$(request_dir evil.sha256)/ERROR")" "evil.sha256: line 2: names a path \\(../etc/passwd\\)" \
	"with the line and the reason"
check "and writes nothing outside its outbox folder" test ! -e "$SPOOL/outbox/$DEV/etc"
# Expiry removes every signature of the list.
wait_for 30 grep -qx expired "$dir/STATUS"
ok $? "the list's request expires"
check "with all its signatures removed" test ! -e "$dir/a.bin.p7s" -a ! -e "$dir/b c.bin.p7s" -a ! -e "$dir/setup.exe.p7s"
check "csodd is still running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
