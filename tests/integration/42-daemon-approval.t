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
id=$(dir_id "$(request_dir a.sha256)")
sleep 1
is "$(state_of a.sha256)" created "and keeps waiting"
check "approvers can read details.json, with the file's SHA-256" runuser -u "$APPROVER" -- \
	grep -q "\"sha256\": \"$(sha256sum "$T_DIR/a.sha256" | cut -d' ' -f1)\"" "$SPOOL/requests/$id/details.json"

# approvals/ admits the admins only (its ACL): a non-admin cannot even put
# a file there.
marker $NOBODY "$id" approve 2>/dev/null
ok $((!$?)) "a non-admin cannot create a marker in approvals/"
check "so there is none" test ! -e "$SPOOL/approvals/$id.approve"
# A non-admin's file that got there all the same (moved in by root): its
# owner is who counts, and is no admin.
printf 'x' >"$SPOOL/approvals/.$id.t" && chown "$NOBODY" "$SPOOL/approvals/.$id.t" &&
	mv "$SPOOL/approvals/.$id.t" "$SPOOL/approvals/$id.approve"
wait_for 10 test -f "$SPOOL/approvals/$id.approve.rejected"
ok $? "a marker owned by a non-admin is rejected"
like "$(cat "$SPOOL/approvals/$id.approve.reason")" "is not an administrator" "with the reason beside it"
is "$(state_of a.sha256)" created "and the request still waits"
rm -f "$SPOOL/approvals/$id.approve.rejected" "$SPOOL/approvals/$id.approve.reason"

ln -s /etc/passwd "$SPOOL/approvals/$id.approve"
wait_for 10 test -e "$SPOOL/approvals/$id.approve.rejected"
ok $? "a symlinked marker is rejected"
like "$(cat "$SPOOL/approvals/$id.approve.reason")" "symbolic link" "because it is a link"
rm -f "$SPOOL/approvals/$id.approve.rejected" "$SPOOL/approvals/$id.approve.reason"

# A hard link carries its owner: a non-admin links a file the approver owns
# (one left writable for all, which fs.protected_hardlinks lets anyone link)
# into approvals/ as a marker. Its owner uid is the approver's, so only the
# link count tells it apart.
mkdir -m 1777 "$T_DIR/scratch"
runuser -u "$APPROVER" -- sh -c "umask 0; printf 'notes' > '$T_DIR/scratch/notes'"
runuser -u "$NOBODY" -- ln "$T_DIR/scratch/notes" "$SPOOL/approvals/$id.approve" 2>/dev/null
ok $((!$?)) "a non-admin cannot hard-link the approver's file into approvals/"
# Linked all the same (by root): the link count tells it apart.
ln "$T_DIR/scratch/notes" "$SPOOL/approvals/$id.approve"
wait_for 10 test -e "$SPOOL/approvals/$id.approve.rejected"
ok $? "a hard-linked marker is rejected"
like "$(cat "$SPOOL/approvals/$id.approve.reason")" "not a plain regular file" "because it has other links"
is "$(state_of a.sha256)" created "and the request still waits"
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
id=$(dir_id "$(request_dir b.sha256)")
marker $APPROVER "$id" decline "Not this version"
wait_state b.sha256 declined
ok $? "a decline marker declines"
is "$(json_field "$(request_dir b.sha256)/request.json" message)" "Not this version" "with its message"
check "no signature for a declined request" test ! -e "$(request_dir b.sha256)/b.sha256.p7s"
check "and its store copy is removed" test ! -e "$SPOOL/store/$id"

make_hash_drop c.sha256
drop_by_rename c.sha256 "$SELF"
wait_state c.sha256 created 30 "$SELF"
id=$(dir_id "$(request_dir c.sha256 "$SELF")")
marker $SELF "$id" approve
wait_for 10 test -f "$SPOOL/approvals/$id.approve.rejected"
ok $? "an admin cannot approve their own request"
like "$(cat "$SPOOL/approvals/$id.approve.reason")" "own request" "and is told why"
check "the attempt is audited" sh -c "db_sql \"SELECT detail FROM audit WHERE action='approval.rejected'\" | grep -q 'own request'"

# What is approved is what is signed: a developer who kept a descriptor of
# the dropped file open writes another digest through it while the request
# waits. csodd took a copy, so the signature is for the original digest.
make_hash_drop kept.sha256
head -c 100 /dev/urandom >"$T_DIR/swapped.data"
swapped=$(sha256sum "$T_DIR/swapped.data" | cut -d' ' -f1)
chmod 644 "$T_DIR/kept.sha256"
runuser -u "$SELF" -- sh -c "cat '$T_DIR/kept.sha256' >'$SPOOL/inbox/$SELF/.kept.tmp' &&
	exec 3<>'$SPOOL/inbox/$SELF/.kept.tmp' &&
	mv '$SPOOL/inbox/$SELF/.kept.tmp' '$SPOOL/inbox/$SELF/kept.sha256' &&
	while [ ! -e '$T_DIR/scratch/go' ]; do sleep 0.05; done &&
	printf '%s' '$swapped' >&3 && touch '$T_DIR/scratch/written'" &
wait_state kept.sha256 created 30 "$SELF"
ok $? "a drop whose writer keeps a descriptor open waits for approval"
id=$(dir_id "$(request_dir kept.sha256 "$SELF")")
touch "$T_DIR/scratch/go"
wait_for 10 test -e "$T_DIR/scratch/written"
ok $? "the developer wrote another digest through the kept descriptor"
marker $APPROVER "$id" approve
wait_state kept.sha256 signed 30 "$SELF"
ok $? "the request is approved and signed"
check "the signature is for the digest that was dropped" \
	verify_p7s "$(request_dir kept.sha256 "$SELF")/kept.sha256.p7s" "$T_DIR/kept.sha256.data"
! verify_p7s "$(request_dir kept.sha256 "$SELF")/kept.sha256.p7s" "$T_DIR/swapped.data" 2>/dev/null
ok $? "not for the one written afterwards"
check "csodd is still running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
