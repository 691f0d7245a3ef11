#!/bin/bash
# Approval and decline by marker files; markers that must not count are
# renamed .rejected with the reason beside them.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
# Approvers reach approvals/ as themselves.
chmod 755 "$T_DIR"

APPROVER=csodt-appr$$
SELF=csodt-self$$
NOBODY=csodt-nobody$$
for u in $APPROVER $SELF $NOBODY; do useradd -M -N -s /usr/sbin/nologin "$u" || exit 1; done
cleanup_users() { for u in $APPROVER $SELF $NOBODY; do userdel "$u" 2>/dev/null; done; }
trap 'cleanup_users; cleanup' EXIT

AUTO_APPROVE=false
ADMINS="{ user = \"$APPROVER\"; email = \"appr@dithercons.com\"; role = \"MRAO\"; },
  { user = \"$SELF\"; email = \"self@dithercons.com\"; role = \"MRAO\"; }"
DEVELOPERS_EXTRA=", { user = \"$SELF\"; email = \"self@dithercons.com\"; organization = \"$ORG\"; }"
write_config
start_daemon || exit 1

marker() { # marker USER ID KIND [TEXT]
	runuser -u "$1" -- sh -c "printf '%s' '${4:-}' > '$SPOOL/approvals/.$2.tmp' && mv '$SPOOL/approvals/.$2.tmp' '$SPOOL/approvals/$2.$3'"
}

make_hash_drop a.sha256
drop_by_rename a.sha256
wait_state a.sha256 created
ok $? "without auto-approve a request waits in created"
id=$(basename "$(request_dir a.sha256)")
sleep 1
is "$(state_of a.sha256)" created "and keeps waiting"
check "approvers can read details.json" runuser -u "$APPROVER" -- grep -q '"sha256"' "$SPOOL/requests/$id/details.json"

marker $NOBODY "$id" approve
wait_for 10 test -f "$SPOOL/approvals/$id.approve.rejected"
ok $? "a marker from a non-admin is rejected"
like "$(cat "$SPOOL/approvals/$id.approve.reason")" "is not an administrator" "with the reason beside it"
is "$(state_of a.sha256)" created "and the request still waits"
rm -f "$SPOOL/approvals/$id.approve.rejected" "$SPOOL/approvals/$id.approve.reason"

ln -s /etc/passwd "$SPOOL/approvals/$id.approve"
wait_for 10 test -e "$SPOOL/approvals/$id.approve.rejected"
ok $? "a symlinked marker is rejected"
like "$(cat "$SPOOL/approvals/$id.approve.reason")" "symbolic link" "because it is a link"
rm -f "$SPOOL/approvals/$id.approve.rejected" "$SPOOL/approvals/$id.approve.reason"

# The message is at most 4 KiB of UTF-8 text.
runuser -u "$APPROVER" -- sh -c "head -c 5000 /dev/zero | tr '\\0' x > '$SPOOL/approvals/.$id.t' && mv '$SPOOL/approvals/.$id.t' '$SPOOL/approvals/$id.approve'"
wait_for 10 test -f "$SPOOL/approvals/$id.approve.rejected"
ok $? "a marker with a message over 4 KiB is rejected"
like "$(cat "$SPOOL/approvals/$id.approve.reason")" "longer than 4 KiB" "with the reason"
rm -f "$SPOOL/approvals/$id.approve.rejected" "$SPOOL/approvals/$id.approve.reason"
runuser -u "$APPROVER" -- sh -c "printf 'ok \\377\\376' > '$SPOOL/approvals/.$id.t' && mv '$SPOOL/approvals/.$id.t' '$SPOOL/approvals/$id.approve'"
wait_for 10 test -f "$SPOOL/approvals/$id.approve.rejected"
ok $? "a marker whose message is not UTF-8 is rejected"
like "$(cat "$SPOOL/approvals/$id.approve.reason")" "not UTF-8" "with the reason"
rm -f "$SPOOL/approvals/$id.approve.rejected" "$SPOOL/approvals/$id.approve.reason"
is "$(state_of a.sha256)" created "and the request still waits"

marker $APPROVER "$id" approve "Looks good - release 2.4"
wait_state a.sha256 signed
ok $? "an admin's marker approves and the request is signed"
out=$(request_dir a.sha256)
is "$(json_field "$out/request.json" approver)" "$APPROVER" "the marker's owner is the approver"
is "$(json_field "$out/request.json" message)" "Looks good - release 2.4" "the marker text is the message"
check "the processed marker moved to approvals/done" test -f "$SPOOL/approvals/done/$id.approve"
check "the signature verifies" verify_p7s "$out/a.sha256.p7s" "$T_DIR/a.sha256.data"

marker $APPROVER "$id" approve
wait_for 10 test -f "$SPOOL/approvals/$id.approve.rejected"
ok $? "a marker for a finished request is rejected"
like "$(cat "$SPOOL/approvals/$id.approve.reason")" "is signed, not waiting" "saying the request is finished"

make_hash_drop b.sha256
drop_by_rename b.sha256
wait_state b.sha256 created
id=$(basename "$(request_dir b.sha256)")
marker $APPROVER "$id" decline "Not this version"
wait_state b.sha256 declined
ok $? "a decline marker declines"
is "$(json_field "$(request_dir b.sha256)/request.json" message)" "Not this version" "with its message"
check "no signature for a declined request" test ! -e "$(request_dir b.sha256)/b.sha256.p7s"

make_hash_drop c.sha256
drop_by_rename c.sha256 "$SELF"
wait_state c.sha256 created 30 "$SELF"
id=$(basename "$(request_dir c.sha256 "$SELF")")
marker $SELF "$id" approve
wait_for 10 test -f "$SPOOL/approvals/$id.approve.rejected"
ok $? "an admin cannot approve their own request"
like "$(cat "$SPOOL/approvals/$id.approve.reason")" "own request" "and is told why"
check "the attempt is audited" sh -c "sqlite3 '$SPOOL/state/csod.db' \"SELECT detail FROM audit WHERE action='approval.rejected'\" | grep -q 'own request'"
check "csodd is still running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
