#!/bin/bash
# A second attacker (issue 12): a developer who moves other users' files
# and folders into their inbox, and csodd run as its unit runs it (a
# service user with CAP_CHOWN, CAP_DAC_READ_SEARCH and CAP_FOWNER only).
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

check "csodd is still running" daemon_alive
stop_daemon

# --- 4. csodd as its unit runs it ---------------------------------------------
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
