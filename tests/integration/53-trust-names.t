#!/bin/bash
# Names and values nobody can see or that rewrite what others see (issue 12,
# items 4, 9, 10), each dropped by a real Unix developer: a file name that is
# not UTF-8 (in a folder and as the drop's own name), a request.conf version
# that is not UTF-8, file names with a newline and terminal escapes, a name
# whose signature's name (.p7s) would not fit; an email address carrying a
# Bcc: header. None may be signed or published; every request keeps a
# STATUS and a row in `csodctl --json request list`; no mail and no view
# carries a raw control character.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
chmod 755 "$T_DIR" # the developer reads the files to drop from here
U=csn-dev$$
useradd -M -N -s /usr/sbin/nologin "$U" || exit 1
trap 'userdel "$U" 2>/dev/null; cleanup' EXIT

AUTO_APPROVE=false
DEVELOPERS_EXTRA=", { user = \"$U\"; email = \"u@dithercons.com\"; name = \"U\"; organization = \"$ORG\"; }"
write_config
start_daemon || exit 1
IN=$SPOOL/inbox/$U
DB=$SPOOL/state/csod.db
ctl() { csodctl --config "$CONF" "$@"; }
as_dev() { runuser -u "$U" -- "$@"; }
# drop NAME SRC: the developer copies SRC (a file or a folder) into the inbox
# under a dot name and renames it to NAME.
drop() {
	as_dev sh -c 'cp -r "$1" "$2/.drop.tmp" && mv "$2/.drop.tmp" "$2/$3"' sh "$2" "$IN" "$1"
}
sql() { sqlite3 "$DB" "$1"; }
# Requests are found by the start of their drop's name (the rest may be
# bytes a shell pattern cannot hold).
id_of() { sql "SELECT id FROM requests WHERE drop_name LIKE '$1%' ORDER BY id LIMIT 1"; }
state_by() { sql "SELECT state FROM requests WHERE drop_name LIKE '$1%' ORDER BY id LIMIT 1"; }
out_of() { outbox_of_id "$U" "$(id_of "$1")"; }

hashfile() { # hashfile PATH: a sha256sum line for some random bytes
	head -c 512 /dev/urandom >"$1.data"
	sha256sum "$1.data" >"$1"
}
hashfile "$T_DIR/h"

# 1. Not UTF-8: the drop's own name, a name in a folder, the version.
drop "$(printf 'u8top\376.sha256')" "$T_DIR/h"
mkdir "$T_DIR/u8folder"
cp "$T_DIR/h" "$T_DIR/u8folder/ok.sha256"
cp "$T_DIR/h" "$T_DIR/u8folder/$(printf 'bad\377.sha256')"
drop u8folder "$T_DIR/u8folder"
mkdir "$T_DIR/u8ver"
cp "$T_DIR/h" "$T_DIR/u8ver/ok.sha256"
printf 'version = "1.\377";\n' >"$T_DIR/u8ver/request.conf"
drop u8ver "$T_DIR/u8ver"
# 2. Control characters: a newline and a colour escape in the drop's name,
# an OSC title escape with BEL in a folder's file.
drop "$(printf 'ctl-nl\n\033[31mred.sha256')" "$T_DIR/h"
mkdir "$T_DIR/ctlfolder"
cp "$T_DIR/h" "$T_DIR/ctlfolder/$(printf 'esc\033]0;pwned\007.sha256')"
drop ctlfolder "$T_DIR/ctlfolder"
# 3. 255 bytes: the name fits, its signature's name (+ .p7s) does not; 251
# bytes is the longest that does.
LONG=$(printf 'L%.0s' $(seq 248)).sha256
FITS=$(printf 'M%.0s' $(seq 244)).sha256
is "${#LONG}/${#FITS}" "255/251" "the long names are 255 and 251 bytes"
drop "$LONG" "$T_DIR/h"
drop "$FITS" "$T_DIR/h"
# 4. A good drop, to be declined with a message holding escapes.
drop good.sha256 "$T_DIR/h"

BAD="u8top u8folder u8ver ctl-nl ctlfolder LLLL"
all_taken() {
	for p in $BAD MMMM good; do [ -n "$(state_by "$p")" ] || return 1; done
}
wait_for 30 all_taken
ok $? "every drop became a request"

# An approver who approves whatever waits: before the fix, this is how the
# bad names got signed and published.
for id in $(sql "SELECT id FROM requests WHERE state = 'created' AND drop_name != 'good.sha256'"); do
	ctl request approve "$id" -m ok --no-wait >/dev/null
done
in_state() { [ "$(state_by "$1")" = "$2" ]; }
wait_for 30 in_state MMMM signed
ok $? "a 251-byte name is signed"
none_working() { [ -z "$(sql "SELECT id FROM requests WHERE state IN ('approved', 'in_progress')")" ]; }
wait_for 30 none_working

expect_refused() { # expect_refused PREFIX ERROR-REGEX DESCRIPTION
	local out
	out=$(out_of "$1")
	is "$(state_by "$1")" failed "$3: refused at intake"
	like "$(cat "$out/ERROR" 2>/dev/null)" "$2" "$3: the ERROR names the file and the reason"
	is "$(cat "$out/STATUS" 2>/dev/null)" failed "$3: STATUS says failed"
	check "$3: request.json is JSON" /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$out/request.json"
	is "$(cd "$out" 2>/dev/null && ls | sort | tr '\n' ' ')" "ERROR STATUS request.json " "$3: nothing signed or published"
	check "$3: no details.json with a name approvers cannot read" /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$SPOOL/requests/$(id_of "$1")/details.json"
}
expect_refused u8top 'u8top\\xfe\.sha256: file name is not valid UTF-8' "a drop whose own name is not UTF-8"
expect_refused u8folder 'bad\\xff\.sha256: file name is not valid UTF-8' "a file name in a folder that is not UTF-8"
expect_refused u8ver 'request\.conf:1: version: the value is not valid UTF-8' "a request.conf version that is not UTF-8"
expect_refused ctl-nl 'ctl-nl\\n\\x1b\[31mred\.sha256: file name holds a control character' "a newline and an escape in a drop's name"
expect_refused ctlfolder 'esc\\x1b\]0;pwned\\x07\.sha256: file name holds a control character' "an escape in a folder's file name"
expect_refused LLLL 'L+\.\.\.: file name is 255 bytes; with \.p7s the signed output.s name would be over 255 bytes' "a 255-byte name for the hash service"
check "the 251-byte name's signature has its own name" test -f "$(out_of MMMM)/$FITS.p7s"
check "and verifies" verify_p7s "$(out_of MMMM)/$FITS.p7s" "$T_DIR/h.data"
is "$(cd "$SPOOL/outbox/$U" && find . -type f ! -name ERROR ! -name STATUS ! -name request.json ! -name chain.pem ! -name "$FITS.p7s" ! -path ./index.html | wc -l)" 0 \
	"nothing else was published in the developer's outbox"

# 5. An email address with a Bcc: header, anywhere one is accepted.
out=$(ctl developer add "$(printf 'evil@dithercons.com\r\nBcc: spy@elsewhere.com')" --name Evil --user evil --organization "$ORG" 2>&1)
is "$?" 1 "developer add refuses an address holding CR/LF"
like "$out" 'evil@dithercons\.com\\r\\nBcc: spy@elsewhere\.com.*not a valid email address.*control character' "saying why, with the address escaped"
out=$(ctl developer add "evil@elsewhere.com" --name Evil --user evil --organization "$ORG" 2>&1)
is "$?" 1 "developer add refuses an address outside the organization's domains"
like "$out" 'not in a domain of' "saying so"
out=$(ctl developer add "a b@dithercons.com" --name Evil --user evil --organization "$ORG" 2>&1)
is "$?" 1 "developer add refuses an address with a space"
out=$(ctl developer edit "$DEV" --email "$(printf 'd@dithercons.com\nBcc: spy@elsewhere.com')" 2>&1)
is "$?" 1 "developer edit refuses an address holding a newline"
is "$(sql "SELECT count(*) FROM developers WHERE email LIKE '%Bcc%' OR user = 'evil'")" 0 "no such address was recorded"
is "$(sql "SELECT count(*) FROM mail_queue WHERE recipient LIKE '%Bcc%'")" 0 "and no mail was queued to it"
cp "$CONF" "$T_DIR/bad.conf"
sed -i 's|email = "root@dithercons.com"|email = "root@dithercons.com\\r\\nBcc: spy@elsewhere.com"|' "$T_DIR/bad.conf"
out=$(csodd --config "$T_DIR/bad.conf" --check-config 2>&1)
ok $((! $?)) "--check-config refuses an admin address holding CR/LF"
like "$out" 'admins\[0\].*not a valid email address' "naming the entry"
cp "$CONF" "$T_DIR/bad.conf"
sed -i 's|email = "dagwood@dithercons.com"|email = "dagwood@elsewhere.com"|' "$T_DIR/bad.conf"
out=$(csodd --config "$T_DIR/bad.conf" --check-config 2>&1)
ok $((! $?)) "--check-config refuses a developer address outside the organization's domains"
like "$out" 'developers\[0\].*"dagwood@elsewhere\.com" is not in a domain of' "naming the entry and the address"

# 6. A decline whose message holds a newline and terminal escapes.
gid=$(id_of good)
ctl request decline "$gid" -m "$(printf 'no\033[2J\nway\033]0;x\007')" >/dev/null
wait_for 30 in_state good declined
ok $? "the good drop is declined"
out=$(ctl request show "$gid")
like "$out" 'Message: +no\\x1b\[2J\\nway\\x1b\]0;x\\x07' "request show prints the message escaped"
check "request show prints no raw control character" sh -c "! printf '%s' \"\$1\" | tr -d '\n' | LC_ALL=C grep -q '[[:cntrl:]]'" sh "$out"

# 7. A request recorded before the fix, with a version that is not UTF-8:
# its views are rewritten at start-up, and csodctl lists it.
stop_daemon
LEGACY=20200101-000000-lgcy
sql "INSERT INTO requests(id, developer, organization, version, digests, state, created, updated, error, drop_name) VALUES('$LEGACY', '$U', '$ORG', CAST(X'312EFF' AS TEXT), 'sha256', 'failed', 1577836800, 1577836800, 'legacy', 'legacy.sha256')"
start_daemon || exit 1
wait_for 15 sh -c "ls '$SPOOL/outbox/$U/'$LEGACY*/STATUS"
LEGACY_DIR=$(outbox_of_id "$U" "$LEGACY")
ok $? "a request whose version is not UTF-8 still gets its STATUS"
like "$(cat "$LEGACY_DIR/request.json" 2>/dev/null)" '"version": "1\.\\\\xff"' "request.json shows the version escaped"
check "the daemon logs that a value had to be escaped" grep -q "$LEGACY.*version.*not valid UTF-8" "$LOG"
rows=$(ctl --json request list 2>"$T_DIR/list.err" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
is "$rows" "$(sql "SELECT count(*) FROM requests")" "csodctl --json request list reports every row"
like "$(cat "$T_DIR/list.err")" "$LEGACY: version is not valid UTF-8" "and says which value it escaped"

# 8. No mail body, header or view holds a raw control character.
mail_sent() { [ "$(sql "SELECT count(*) FROM mail_queue WHERE state = 'queued'")" = 0 ]; }
wait_for 30 mail_sent
ok $? "every queued mail was delivered to the spool"
check "the declined notice was mailed" sh -c "grep -l 'was declined' '$SPOOL'/mail/*.eml"
check "the refusals were mailed" sh -c "grep -l 'file name holds a control character' '$SPOOL'/mail/*.eml"
/usr/bin/python3 - "$SPOOL"/mail/*.eml <<'PY'
import email, email.policy, sys
bad = []
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    rest = data.replace(b"\r\n", b"")
    if any(b < 0x20 or b == 0x7F for b in rest):
        bad.append(path)
    m = email.message_from_bytes(data, policy=email.policy.default)
    if m["Bcc"] or "\n" in str(m["To"]) or "\n" in str(m["Subject"]):
        bad.append(path)
for path in bad:
    print("# raw control character or injected header in", path)
sys.exit(1 if bad else 0)
PY
ok $? "no mail holds a raw control character or an injected header"
check "no ERROR file holds a raw control character but its newline" sh -c "! cat '$SPOOL'/outbox/'$U'/*/ERROR | tr -d '\n' | LC_ALL=C grep -q '[[:cntrl:]]'"
check "no log line holds a raw control character (the decline's message is in the audit)" \
	sh -c "! tr -d '\n' <'$LOG' | LC_ALL=C grep -q '[[:cntrl:]]'"
check "csodd is still running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
