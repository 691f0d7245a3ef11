#!/bin/bash
# A second attacker (issue 12): a developer who moves other users' files
# and folders into their inbox, squats the names approvers need in
# approvals/, plants files csodctl reads, and csodd run as its unit runs it
# (a service user with CAP_CHOWN, CAP_DAC_READ_SEARCH and CAP_FOWNER only).
# Each attack is made by real Unix users on the spool's filesystem.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
chmod 755 "$T_DIR"
S=$$
DEV=csrt-dev$S   # the attacker
VIC=csrt-vic$S   # a colleague sharing a group folder with them
ADM=csrt-adm$S   # an approver
DRAO=csrt-drao$S # an approver for another department only
SVC=csrt-svc$S   # the daemon's own account, for part 2
for u in $DEV $VIC $ADM $DRAO; do useradd -M -N -s /usr/sbin/nologin "$u" || exit 1; done
groupadd "$SVC" && useradd -M -g "$SVC" -s /usr/sbin/nologin "$SVC" || exit 1
cleanup_users() {
	stop_daemon
	for u in $DEV $VIC $ADM $DRAO $SVC; do userdel "$u" 2>/dev/null; done
	groupdel "$SVC" 2>/dev/null
}
trap 'cleanup_users; cleanup' EXIT
as() { local u=$1; shift; runuser -u "$u" -- "$@"; }
IN=$SPOOL/inbox/$DEV
# drop NAME: the developer moves $T_DIR/NAME (theirs) into the inbox.
drop() { as "$DEV" sh -c "cp -r '$T_DIR/$1' '$IN/.$1.tmp' && mv '$IN/.$1.tmp' '$IN/$1'"; }
# A folder shared by the group 'users' (the developers' group: useradd -N),
# on the spool's filesystem, as team folders on a file server are.
TEAM=$T_DIR/team
mkdir "$TEAM" && chgrp users "$TEAM" && chmod 2775 "$TEAM"

AUTO_APPROVE=false
ADMINS="{ user = \"$ADM\"; email = \"adm@dithercons.com\"; role = \"MRAO\"; },
  { user = \"$DRAO\"; email = \"qa@dithercons.com\"; role = \"DRAO\"; departments = [ \"$ORG/QA\" ]; }"
write_config
start_daemon || exit 1

# --- 1. A colleague's file moved in: csodd would read it for the attacker ----
make_hash_drop secret.sha256
as "$VIC" sh -c "cat '$T_DIR/secret.sha256' > '$TEAM/secret.sha256' && chmod 600 '$TEAM/secret.sha256'"
check "the developer cannot read the colleague's file" sh -c "! runuser -u $DEV -- cat '$TEAM/secret.sha256' 2>/dev/null"
as "$DEV" mv "$TEAM/secret.sha256" "$IN/secret.sha256"
ok $? "but can move it into their inbox (they may write the team folder)"
wait_state secret.sha256 failed 20
ok $? "a file of another user dropped as it is is refused"
like "$(cat "$(request_dir secret.sha256)/ERROR" 2>/dev/null)" "secret.sha256: belongs to $VIC, not to $DEV" "the reason names its owner"
secret_hash=$(sha256sum <"$T_DIR/secret.sha256" | cut -c1-64)
check "neither its signature nor its hashes reach the developer or the views" \
	sh -c "! grep -rq '$secret_hash' '$SPOOL/outbox' '$SPOOL/requests' && ! ls '$SPOOL'/outbox/$DEV/*/secret.sha256.p7s 2>/dev/null"
check "the file is left where the developer put it, unread and whole" \
	cmp -s "$T_DIR/secret.sha256" "$IN/secret.sha256"

# csodd run as root (as here) owns root's files: one that only root may
# read is no more the developer's than the colleague's was.
cat "$T_DIR/secret.sha256" >"$TEAM/root.sha256" && chmod 600 "$TEAM/root.sha256"
as "$DEV" mv "$TEAM/root.sha256" "$IN/root.sha256"
wait_state root.sha256 failed 20
ok $? "a file only root may read is refused from a root-run csodd too"
like "$(cat "$(request_dir root.sha256)/ERROR" 2>/dev/null)" "root.sha256: belongs to root, not to $DEV" "naming root"

# The same inside a folder drop, and a request.conf that is not theirs
# (its setting names and values would be shown in errors and views).
mkdir "$T_DIR/inner"
make_hash_drop own.sha256
cp "$T_DIR/own.sha256" "$T_DIR/inner/"
chmod -R a+rX "$T_DIR/inner"
as "$VIC" sh -c "cat '$T_DIR/secret.sha256' > '$TEAM/also.sha256' && chmod 600 '$TEAM/also.sha256'"
as "$VIC" sh -c "printf 'version = \"VICTIM-%s\";\n' $S > '$TEAM/request.conf' && chmod 600 '$TEAM/request.conf'"
as "$DEV" sh -c "cp -r '$T_DIR/inner' '$IN/.inner.tmp' && mv '$TEAM/also.sha256' '$IN/.inner.tmp/' && mv '$IN/.inner.tmp' '$IN/inner'"
as "$DEV" sh -c "cp -r '$T_DIR/inner' '$IN/.conf.tmp' && mv '$TEAM/request.conf' '$IN/.conf.tmp/' && mv '$IN/.conf.tmp' '$IN/conf'"
wait_state inner failed 20 && wait_state conf failed 20
ok $? "a folder drop holding a colleague's file or request.conf is refused"
like "$(cat "$(request_dir inner)/ERROR" 2>/dev/null)" "also.sha256: belongs to $VIC" "naming the file"
like "$(cat "$(request_dir conf)/ERROR" 2>/dev/null)" "request.conf: belongs to $VIC" "naming request.conf"
check "the colleague's version is in no view" sh -c "! grep -rq 'VICTIM-$S' '$SPOOL/outbox' '$SPOOL/requests'"

# --- 2. A colleague's folder: removing a refused drop must not empty it ------
# The colleague's project folder is writable by the group (so the developer
# may move it), its keep/ subfolder is not (so they cannot empty that).
make_project() { # make_project NAME: $TEAM/NAME/keep/data, the colleague's
	as "$VIC" sh -c "mkdir -m 2775 '$TEAM/$1' && mkdir -m 755 '$TEAM/$1/keep' && echo precious > '$TEAM/$1/keep/data'"
}
make_project proj
check "the developer cannot delete the colleague's data" sh -c "! runuser -u $DEV -- rm -f '$TEAM/proj/keep/data' 2>/dev/null"
mkdir "$T_DIR/wrap" && cp "$T_DIR/own.sha256" "$T_DIR/wrap/" && chmod -R a+rX "$T_DIR/wrap"
as "$DEV" sh -c "cp -r '$T_DIR/wrap' '$IN/.wrap.tmp' && mv '$TEAM/proj' '$IN/.wrap.tmp/' && mv '$IN/.wrap.tmp' '$IN/wrap'"
wait_state wrap failed 20
ok $? "a folder drop holding a colleague's folder is refused"
sleep 1
found=$(find "$SPOOL/store/incoming" -path '*/proj/keep/data' 2>/dev/null | head -1)
check "the colleague's data survives the removal of the refused drop" grep -qx precious "${found:-/nonexistent}"
check "in a folder that is still the colleague's" test "$(stat -c %U "$(dirname "${found:-/x/y}")" 2>/dev/null)" = "$VIC"
check "and the log says why it is left in store/incoming" grep -q "holds a folder of another user" "$LOG"
make_project top
as "$DEV" mv "$TEAM/top" "$IN/top"
wait_state top failed 20
ok $? "a colleague's folder dropped as it is is refused"
like "$(cat "$(request_dir top)/ERROR" 2>/dev/null)" "top: belongs to $VIC" "as not the developer's"
check "and left in the inbox, whole and still the colleague's" \
	sh -c "grep -qx precious '$IN/top/keep/data' && [ \"\$(stat -c %U '$IN/top')\" = $VIC ]"

# --- 3. Stopped already: top-level FIFOs and sockets --------------------------
as "$DEV" mkfifo "$IN/pipe.sha256"
as "$DEV" /usr/bin/python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$IN/sock.sha256"
wait_state pipe.sha256 failed 20 && wait_state sock.sha256 failed 20
ok $? "a FIFO or a socket dropped at the top level is refused"
like "$(cat "$(request_dir pipe.sha256)/ERROR" 2>/dev/null)" "not a regular file" "without opening it"

# The top-level entry swapped between what the watcher saw and the rename:
# a folder, a link to state/ and a FIFO trade places under one name.
as "$DEV" sh -c "mkdir '$IN/.sw.d' && cp '$T_DIR/own.sha256' '$IN/.sw.d/' && ln -s '$SPOOL/state' '$IN/.sw.l' && mkfifo '$IN/.sw.f'"
swaps=$(as "$DEV" /usr/bin/python3 - "$IN" <<'PY'
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
os.rename(".sw.d", "swap", src_dir_fd=fd, dst_dir_fd=fd)  # csodd takes it at once
n, end = 0, time.monotonic() + 2
while time.monotonic() < end:
    for other in (b".sw.l", b".sw.f"):
        n += libc.renameat2(fd, b"swap", fd, other, 2) == 0  # RENAME_EXCHANGE
print(n)
PY
)
diag "swaps before csodd took it: $swaps"
wait_for 20 request_dir swap && wait_for 10 sh -c "grep -qxE 'failed|created' '$(request_dir swap)/STATUS'"
ok $? "a drop swapped between a folder, a link and a FIFO becomes one request ($(cat "$(request_dir swap)/ERROR" 2>/dev/null))"
check "state/ is intact" test -s "$SPOOL/state/csod.db" -a -s "$SPOOL/state/master.key"
# Control names at the top level are no instructions.
as "$DEV" sh -c "echo x > '$IN/READY'; printf 'digests = [\"md5\"];\n' > '$IN/.rc.tmp' && mv '$IN/.rc.tmp' '$IN/request.conf'"
wait_for 10 test ! -e "$IN/READY"
ok $? "a READY at the top level is removed"
wait_state request.conf failed 20
ok $? "a request.conf at the top level is a drop like any other (refused: nothing signs it)"

# --- 4. Approvals: names squatted, files planted ------------------------------
make_hash_drop good.sha256
chmod 644 "$T_DIR/good.sha256"
drop good.sha256
wait_state good.sha256 created 20
id=$(dir_id "$(request_dir good.sha256)")
A=$SPOOL/approvals
# The developer cannot write in approvals/ at all (admins only, its ACL).
as "$DEV" mkdir "$A/$id.approve" 2>/dev/null
ok $((!$?)) "the developer cannot squat a marker's name in approvals/"
# Someone who can (an admin, or root here) takes the marker's name with a
# folder, and the name csodd renames a rejected marker to with a folder
# that is not empty.
mkdir -p "$A/$id.approve.rejected/x" "$A/$id.approve.reason/x" "$A/$id.approve"
wait_for 10 test ! -e "$A/$id.approve"
ok $? "a folder squatting a marker's name is moved out of the way"
marker() { # marker ID KIND: the approver writes a marker by hand
	as "$ADM" sh -c "printf ok > '$A/.$1.t' && mv '$A/.$1.t' '$A/$1.$2'"
}
marker "$id" approve
ok $? "so the approver can write their marker"
wait_state good.sha256 signed 20
ok $? "which approves the request"
check "the squatting folders are out of the scan's way" sh -c "ls -A '$A' | grep -q '^\\.csod-rejected-'"

# csodctl reads what approvals/ holds after writing a marker: the developer
# plants a rejection (with a terminal escape) for the approver's next marker.
chmod 1777 "$SPOOL/state"
chmod 666 "$SPOOL"/state/csod.db*
make_hash_drop next.sha256
chmod 644 "$T_DIR/next.sha256"
drop next.sha256
wait_state next.sha256 created 20
id=$(dir_id "$(request_dir next.sha256)")
as "$DEV" sh -c "printf 'x' > '$A/$id.approve.rejected'" 2>/dev/null
ok $((!$?)) "the developer cannot plant a rejection in approvals/"
sh -c "printf 'x' > '$A/$id.approve.rejected'; printf '\\033]0;pwned\\007security hold\\n' > '$A/$id.approve.reason'"
out=$(as "$ADM" csodctl --config "$CONF" request approve "$id" 2>&1)
ok $? "csodctl approve is not fooled by a planted rejection ($out)"
check "and prints no raw control character" sh -c "! printf '%s' \"\$1\" | LC_ALL=C grep -q '[[:cntrl:]]'" sh "$out"
wait_state next.sha256 signed 20
ok $? "the request is approved"

# Ownership does not prove intent: a file the approver wrote anywhere the
# developer may write (the team folder) is moved into approvals/ by the
# developer as a marker for their own request. approvals/ admits only the
# admins (its ACL), so the developer cannot even move it there.
make_hash_drop self.sha256
chmod 644 "$T_DIR/self.sha256"
drop self.sha256
wait_state self.sha256 created 20
id=$(dir_id "$(request_dir self.sha256)")
as "$ADM" sh -c "echo 'meeting notes' > '$TEAM/notes.txt'"
as "$DEV" mv "$TEAM/notes.txt" "$A/$id.approve"
wait_for 10 test -e "$A/$id.approve.rejected" -o -e "$A/done/$id.approve"
test "$(state_of self.sha256)" = created
ok $? "an approver's file moved into approvals/ by the developer does not approve"
check "the developer could not put it there" test -e "$TEAM/notes.txt"

# csodctl checks roles in csodd (the control socket), never against a
# config the caller names: an approver who writes a config of their own
# making themselves MRAO gains nothing.
mkdir "$T_DIR/drao" && chown "$DRAO" "$T_DIR/drao"
as "$DRAO" sh -c "sed 's/role = \"DRAO\"; departments = \[[^]]*\]/role = \"MRAO\"/' '$CONF' > '$T_DIR/drao/my.conf'"
as "$DRAO" csodctl --config "$T_DIR/drao/my.conf" auto-approve on >/dev/null 2>&1
test $? -ne 0
ok $? "a DRAO cannot turn auto-approve on for everyone through a config of their own"
check "csodd is still running" daemon_alive
stop_daemon

# A DRAO scope is one department: not one that a '/' in an organization's
# name makes read as two.
cat >"$T_DIR/ambiguous.conf" <<AMB
spool = "$T_DIR/amb";
organizations = ( { name = "A"; departments = [ "B/C" ]; }, { name = "A/B"; departments = [ "C" ]; } );
admins = ( { user = "$DRAO"; email = "q@x"; role = "DRAO"; departments = [ "A/B/C" ]; } );
AMB
out=$(csodd --config "$T_DIR/ambiguous.conf" --check-config 2>&1)
test $? -ne 0
ok $? "a DRAO scope naming a department of two organizations is refused"
like "$out" 'departments: "A/B/C" names a department of 2 organizations' "saying why"

# --- 5. csodd as its unit runs it ---------------------------------------------
# Not root: no CAP_DAC_OVERRIDE. Moving a folder to another parent rewrites
# its "..", which needs write permission on it.
rm -rf "$SPOOL" "$LOG"
write_config
mkdir -p "$SPOOL" && chown "$SVC:$SVC" "$SPOOL" && chmod 644 "$CONF"
# The approver is in the daemon's group, which may write every inbox.
usermod -a -G "$SVC" "$ADM"
setpriv --reuid="$SVC" --regid="$SVC" --init-groups \
	--inh-caps=+chown,+dac_read_search,+fowner --ambient-caps=+chown,+dac_read_search,+fowner \
	csodd --config "$CONF" --foreground >/dev/null 2>>"$LOG" &
DAEMON_PID=$!
DEV_SAVED=$DEV
wait_for 60 test -d "$IN" -a -f "$SPOOL/ca/ca.pem"
ok $? "csodd runs as a service user with the unit's three capabilities"
make_hash_drop f.sha256
mkdir "$T_DIR/fold" && cp "$T_DIR/f.sha256" "$T_DIR/fold/" && chmod -R a+rX "$T_DIR/fold"
drop fold
wait_state fold created 20
ok $? "a folder drop of the developer is taken"
make_project proj2
as "$DEV" sh -c "cp -r '$T_DIR/wrap' '$IN/.wrap2.tmp' && mv '$TEAM/proj2' '$IN/.wrap2.tmp/' && mv '$IN/.wrap2.tmp' '$IN/wrap2'"
wait_state wrap2 failed 20
ok $? "one holding a colleague's folder is refused"
sleep 1
found=$(find "$SPOOL/store/incoming" -path '*/proj2/keep/data' 2>/dev/null | head -1)
check "and the colleague's data survives it" grep -qx precious "${found:-/nonexistent}"
# Anyone the inbox lets in (the daemon's group) could drop a file there to
# be signed with the developer's key, and then approve it themselves.
make_hash_drop planted.sha256
chmod 644 "$T_DIR/planted.sha256"
as "$ADM" sh -c "cp '$T_DIR/planted.sha256' '$IN/.planted.tmp' && mv '$IN/.planted.tmp' '$IN/planted.sha256'"
ok $? "a member of the daemon's group can write into a developer's inbox"
wait_state planted.sha256 failed 20
ok $? "but what they drop there is not the developer's request"
like "$(cat "$(request_dir planted.sha256)/ERROR" 2>/dev/null)" "belongs to $ADM, not to $DEV" "it belongs to them"
check "csodd is still running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
