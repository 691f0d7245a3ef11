#!/bin/bash
# Approvers examine what they approve: the store copy (the bytes that are
# signed), never the inbox. Real Unix users: a DRAO whose department the
# request is in reads it through csodctl (csodd's control socket) and from
# the share (requests/<id>/files/, POSIX ACLs); a DRAO of another
# department and the requesting developer are refused by both; a developer
# who writes into their dropped file through a descriptor kept open after
# csodd took it changes nothing the approvers read.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
command -v getfacl >/dev/null || skip_all "getfacl (Debian acl) not installed"
S=$$
add_users appr other dev1
A="Dithers Construction Company"
SOCK=$SPOOL/run/csod.sock
D1=csr-dev1$S
AUTO_APPROVE=false
DEVELOPERS_EXTRA=", { user = \"$D1\"; email = \"d1@dithercons.com\"; organization = \"$A\"; department = \"Software Development\"; }"
ADMINS="{ user = \"csr-appr$S\"; email = \"a@dithercons.com\"; role = \"DRAO\"; departments = [ \"$A/Software Development\" ]; },
  { user = \"csr-other$S\"; email = \"o@dithercons.com\"; role = \"DRAO\"; departments = [ \"$A/QA\" ]; }"
write_config
chmod 640 "$CONF"
start_daemon || exit 1
wait_for 10 test -S "$SOCK"
as() { local u=$1; shift; runuser -u "csr-$u$S" -- "$@"; }
uctl() { local u=$1; shift; as "$u" csodctl --socket "$SOCK" "$@"; }
for u in appr other dev1; do mkdir -m 700 "$T_DIR/$u" && chown "csr-$u$S" "$T_DIR/$u"; done
mkdir -m 1777 "$T_DIR/flags"

# The developer drops a file and keeps it open for writing (a process of
# theirs), to change it once csodd has taken it.
make_hash_drop app.sha256
cp "$T_DIR/app.sha256" "$T_DIR/app.sha256.orig"
cp "$T_DIR/app.sha256" "$SPOOL/inbox/$D1/app.sha256"
chown "$D1" "$SPOOL/inbox/$D1/app.sha256"
as dev1 /usr/bin/python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
open(sys.argv[2] + "/held", "w").close()
while not os.path.exists(sys.argv[2] + "/flip"):
    time.sleep(0.05)
os.pwrite(fd, b"0" * 64 + b"  evil\n", 0)
os.fsync(fd)
open(sys.argv[2] + "/flipped", "w").close()' "$SPOOL/inbox/$D1/app.sha256" "$T_DIR/flags" &
writer=$!
wait_for 10 test -e "$T_DIR/flags/held"
wait_state app.sha256 created 30 "$D1"
ok $? "the drop becomes a request waiting for approval"
id=$(dir_id "$(request_dir app.sha256 "$D1")")
touch "$T_DIR/flags/flip"
wait "$writer"
check "the developer wrote into the dropped file through the descriptor they kept" test -e "$T_DIR/flags/flipped"

# --- csodctl request download --submitted ----------------------------------------
out=$(uctl appr request download "$id" --submitted --to "$T_DIR/appr" 2>&1)
ok $? "the approver in scope downloads the submitted files through csodd"
like "$out" "$T_DIR/appr/app.sha256" "and is told where each file went"
check "the bytes are those that were dropped (the store copy), not the changed inbox file" \
	cmp "$T_DIR/appr/app.sha256" "$T_DIR/app.sha256.orig"
check "and those that will be signed: the store copy" cmp "$T_DIR/appr/app.sha256" "$SPOOL/store/$id/app.sha256"
is "$(stat -c %U "$T_DIR/appr/app.sha256")" "csr-appr$S" "written by the approver's own csodctl, as them"
out=$(uctl appr request download "$id" --submitted --to "$T_DIR/appr" 2>&1)
is "$?" 1 "a second download into the same folder writes over nothing"
like "$out" "app.sha256: exists already" "saying so"
mkdir -m 700 "$T_DIR/appr/trap" && ln -s "$T_DIR/victim" "$T_DIR/appr/trap/app.sha256" && chown -R "csr-appr$S" "$T_DIR/appr/trap"
out=$(uctl appr request download "$id" --submitted --to "$T_DIR/appr/trap" 2>&1)
is "$?" 1 "a symbolic link where a file goes is not followed"
check "and nothing is written through it" test ! -e "$T_DIR/victim"
out=$(uctl appr request download "$id" --submitted --to "$T_DIR/other" 2>&1)
is "$?" 1 "the files go where the approver may write, not where csodd may"

out=$(uctl other request download "$id" --submitted --to "$T_DIR/other" 2>&1)
is "$?" 1 "an approver of another department is refused"
like "$out" "no request $id" "the request is not there for them"
check "and nothing is written" test -z "$(ls -A "$T_DIR/other")"
out=$(uctl dev1 request download "$id" --submitted --to "$T_DIR/dev1" 2>&1)
is "$?" 1 "the requesting developer is refused"
like "$out" "is not an approver: only approvers examine submitted files" "saying why"
check "and nothing is written" test -z "$(ls -A "$T_DIR/dev1")"
check "the examination and the refusals are audited under the callers' names" sh -c \
	"sqlite3 '$SPOOL/state/csod.db' \"SELECT actor||' '||action FROM audit WHERE object='$id'\" | grep -x 'csr-appr$S request.examine' && sqlite3 '$SPOOL/state/csod.db' \"SELECT actor FROM audit WHERE object='$id' AND action='csodctl.refused'\" | grep -x 'csr-other$S'"
mkdir -m 700 "$T_DIR/root"
out=$(csodctl --offline --config "$CONF" request download "$id" --submitted --to "$T_DIR/root" 2>&1)
ok $? "root downloads them offline"
check "the same bytes" cmp "$T_DIR/root/app.sha256" "$T_DIR/app.sha256.orig"

# --- requests/<id>/files/ on the share --------------------------------------------
F=$SPOOL/requests/$id/files
wait_for 10 test -f "$F/app.sha256"
ok $? "the approvers' view of the files is published"
check "the approver in scope reads it from the share" sh -c "runuser -u csr-appr$S -- cat '$F/app.sha256' | cmp - '$T_DIR/app.sha256.orig'"
check "and lists the folder" runuser -u "csr-appr$S" -- ls "$F"
check "an approver of another department cannot read it" sh -c "! runuser -u csr-other$S -- cat '$F/app.sha256' 2>/dev/null"
check "nor list the folder" sh -c "! runuser -u csr-other$S -- ls '$F' 2>/dev/null"
check "nor can the developer" sh -c "! runuser -u $D1 -- cat '$F/app.sha256' 2>/dev/null"
is "$(stat -c %a "$F/app.sha256")" 440 "each file is 0440 (the group bits are the ACL mask)"
like "$(getfacl -cp "$F/app.sha256" 2>/dev/null | grep . | tr '\n' ' ')" "^user::r-- user:csr-appr$S:r-- group::--- mask::r-- other::--- $" \
	"readable by the approver in scope alone"
like "$(getfacl -cp "$F" 2>/dev/null | grep . | tr '\n' ' ')" "^user::rwx user:csr-appr$S:r-x group::--- mask::r-x other::--- $" \
	"the folder is r-x for them only"
check "a copy, not a link to the store copy" sh -c \
	"[ \$(stat -c %i '$F/app.sha256') != \$(stat -c %i '$SPOOL/store/$id/app.sha256') ] && [ \$(stat -c %h '$F/app.sha256') = 1 ]"
check "nobody may write there" sh -c "! runuser -u csr-appr$S -- sh -c 'echo x >>\"$F/app.sha256\"' 2>/dev/null"

# --- a reload takes the reading away from an admin removed ----------------------
sed -i "s|departments = \\[ \"$A/Software Development\" \\]|departments = [ \"$A/QA\" ]|" "$CONF"
kill -HUP "$DAEMON_PID"
wait_for 10 sh -c "! getfacl -cp '$F' 2>/dev/null | grep -q 'user:csr-appr$S'"
ok $? "after a reload that moves the approver elsewhere, the folder is closed to them"
check "and its files" sh -c "! runuser -u csr-appr$S -- cat '$F/app.sha256' 2>/dev/null"
sed -i "s|{ user = \"csr-appr$S\"; email = \"a@dithercons.com\"; role = \"DRAO\"; departments = \\[ \"$A/QA\" \\]|{ user = \"csr-appr$S\"; email = \"a@dithercons.com\"; role = \"DRAO\"; departments = [ \"$A/Software Development\" ]|" "$CONF"
kill -HUP "$DAEMON_PID"
wait_for 10 sh -c "getfacl -cp '$F' 2>/dev/null | grep -q 'user:csr-appr$S'"
ok $? "moved back, they read it again"

# --- the view ends with the request ------------------------------------------------
out=$(uctl appr request approve "$id" -m "looked at it" 2>&1)
ok $? "the approver approves"
wait_state app.sha256 signed 30 "$D1"
ok $? "the request is signed"
wait_for 10 test ! -e "$F"
ok $? "requests/<id>/files/ is removed once the request is finished"
out=$(uctl appr request download "$id" --submitted --to "$T_DIR/appr/trap" 2>&1)
is "$?" 1 "the submitted files cannot be downloaded after the signing"
like "$out" "is signed: its submitted files are kept only until" "saying why"
check "the signature is over the dropped bytes" verify_p7s "$(request_dir app.sha256 "$D1")/app.sha256.p7s" "$T_DIR/app.sha256.data"

# --- declined: the same ------------------------------------------------------------
make_hash_drop two.sha256
cp "$T_DIR/two.sha256" "$SPOOL/inbox/$D1/" && chown "$D1" "$SPOOL/inbox/$D1/two.sha256"
wait_state two.sha256 created 30 "$D1"
id2=$(dir_id "$(request_dir two.sha256 "$D1")")
wait_for 10 test -f "$SPOOL/requests/$id2/files/two.sha256"
ok $? "a second request gets its view"
uctl appr request decline "$id2" -m no >/dev/null 2>&1
wait_state two.sha256 declined 30 "$D1"
wait_for 10 test ! -e "$SPOOL/requests/$id2/files"
ok $? "and loses it when declined"
check "details.json stays" test -f "$SPOOL/requests/$id2/details.json"
check "csodd is still running" daemon_alive
done_testing
