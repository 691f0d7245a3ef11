#!/bin/bash
# Who may read what the daemon publishes: outbox/<user> its developer only
# (not everyone in the developer's primary group, which LDAP/AD often shares:
# `users`, `domain users`), requests/ the admins of the config and the
# approvers_group only. POSIX ACLs grant it; a reload takes an admin's
# access away; a start closes folders an older csod left open.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
command -v getfacl >/dev/null || skip_all "getfacl (Debian acl) not installed"
chmod 755 "$T_DIR"

S=$$
SHARED=csp-shared$S # the primary group every developer has
APPR_GROUP=csp-apprg$S
ALICE=csp-alice$S
BOB=csp-bob$S
CAROL=csp-carol$S # was a developer: an outbox of hers is left from before
ADM1=csp-adm1$S
ADM2=csp-adm2$S
GADM=csp-gadm$S # an approver by group membership only
PLAIN=csp-plain$S
USERS="$ALICE $BOB $CAROL $ADM1 $ADM2 $GADM $PLAIN"
groupadd "$SHARED" || exit 1
groupadd "$APPR_GROUP" || exit 1
for u in $USERS; do useradd -M -N -g "$SHARED" -s /usr/sbin/nologin "$u" || exit 1; done
usermod -a -G "$APPR_GROUP" "$GADM"
cleanup_users() {
	for u in $USERS; do userdel "$u" 2>/dev/null; done
	groupdel "$SHARED" 2>/dev/null
	groupdel "$APPR_GROUP" 2>/dev/null
}
trap 'cleanup_users; cleanup' EXIT

as() { local u=$1; shift; runuser -u "$u" -- "$@"; }

admin_entry() { echo "{ user = \"$1\"; email = \"$1@dithercons.com\"; role = \"MRAO\"; }"; }
DEVELOPERS_EXTRA=", { user = \"$ALICE\"; email = \"alice@dithercons.com\"; organization = \"$ORG\"; },
  { user = \"$BOB\"; email = \"bob@dithercons.com\"; organization = \"$ORG\"; }"
ADMINS="$(admin_entry "$ADM1"), $(admin_entry "$ADM2")"
EXTRA="approvers_group = \"$APPR_GROUP\";"
write_config

# The spool as an older csod left it: Carol's outbox open to the shared
# group, requests/ open to everyone.
mkdir -p "$SPOOL/outbox/$CAROL/old-request" "$SPOOL/requests"
echo signed >"$SPOOL/outbox/$CAROL/old-request/STATUS"
chown "root:$SHARED" "$SPOOL/outbox/$CAROL"
chmod 0750 "$SPOOL/outbox/$CAROL"
chmod 0755 "$SPOOL/requests"
check "before the start, Bob reads Carol's old outbox (the hole)" as "$BOB" cat "$SPOOL/outbox/$CAROL/old-request/STATUS"

start_daemon || exit 1

# Each developer drops as themselves, into the inbox they own.
drop_as() { # drop_as USER NAME
	make_hash_drop "$2"
	chmod 644 "$T_DIR/$2"
	as "$1" sh -c "cp '$T_DIR/$2' '$SPOOL/inbox/$1/.$2.tmp' && mv '$SPOOL/inbox/$1/.$2.tmp' '$SPOOL/inbox/$1/$2'"
}
drop_as "$ALICE" a.sha256
drop_as "$BOB" b.sha256
wait_state a.sha256 signed 30 "$ALICE"
ok $? "Alice's request is signed"
wait_state b.sha256 signed 30 "$BOB"
ok $? "Bob's request is signed"
out_a=$(request_dir a.sha256 "$ALICE")
id_a=$(dir_id "$out_a")

# Outboxes: their developer only, though Alice and Bob share a primary group.
check "Alice lists her outbox" as "$ALICE" ls "$SPOOL/outbox/$ALICE"
check "Alice reads her STATUS" as "$ALICE" cat "$out_a/STATUS"
check "Alice reads her signature" as "$ALICE" test -r "$out_a/a.sha256.p7s"
as "$BOB" ls "$SPOOL/outbox/$ALICE" >/dev/null 2>&1
ok $((!$?)) "Bob cannot list Alice's outbox"
as "$BOB" cat "$out_a/STATUS" >/dev/null 2>&1
ok $((!$?)) "Bob cannot read Alice's STATUS"
as "$BOB" cat "$out_a/a.sha256.p7s" >/dev/null 2>&1
ok $((!$?)) "nor her signature"
as "$ALICE" ls "$SPOOL/outbox/$BOB" >/dev/null 2>&1
ok $((!$?)) "Alice cannot list Bob's outbox"
is "$(stat -c %U:%G "$SPOOL/outbox/$ALICE")" "root:root" "the outbox is the daemon's (uid and gid)"
acl=$(getfacl -cp "$SPOOL/outbox/$ALICE" 2>/dev/null)
like "$acl" "user:$ALICE:r-x" "getfacl: Alice has r-x"
like "$acl" "^group::---" "getfacl: the owning group nothing"
like "$acl" "other::---" "getfacl: others nothing"
printf '%s' "$acl" | grep -q "$SHARED"
ok $((!$?)) "getfacl: no entry for the shared group"

# An outbox left from before (a developer no longer in the config) is
# closed at the start too.
as "$BOB" cat "$SPOOL/outbox/$CAROL/old-request/STATUS" >/dev/null 2>&1
ok $((!$?)) "after the start, Bob no longer reads Carol's old outbox"
check "Carol still does" as "$CAROL" cat "$SPOOL/outbox/$CAROL/old-request/STATUS"

# requests/: the admins and the approvers group.
details=$SPOOL/requests/$id_a/details.json
check "details.json was written" test -f "$details"
as "$PLAIN" cat "$details" >/dev/null 2>&1
ok $((!$?)) "a user who is no admin cannot read details.json"
as "$BOB" ls "$SPOOL/requests" >/dev/null 2>&1
ok $((!$?)) "nor can a developer list requests/"
check "an admin reads details.json" as "$ADM1" cat "$details"
check "so does the other admin" as "$ADM2" cat "$details"
check "and a member of approvers_group" as "$GADM" cat "$details"
acl=$(getfacl -cp "$SPOOL/requests" 2>/dev/null)
like "$acl" "user:$ADM1:r-x" "getfacl requests/: the first admin"
like "$acl" "user:$ADM2:r-x" "getfacl requests/: the second admin"
like "$acl" "group:$APPR_GROUP:r-x" "getfacl requests/: the approvers group"
like "$acl" "other::---" "getfacl requests/: others nothing"

# A reload without ADM2 and without the group takes their access away.
ADMINS="$(admin_entry "$ADM1")"
EXTRA=""
write_config
kill -HUP "$DAEMON_PID"
wait_for 10 sh -c "! getfacl -cp '$SPOOL/requests' 2>/dev/null | grep -q '$ADM2'"
ok $? "after a reload, the removed admin's entry is gone"
as "$ADM2" cat "$details" >/dev/null 2>&1
ok $((!$?)) "the removed admin can no longer read details.json"
as "$GADM" cat "$details" >/dev/null 2>&1
ok $((!$?)) "nor the group without approvers_group"
check "the remaining admin still can" as "$ADM1" cat "$details"

# An upgrade: folders set the old way are fixed at the next start.
stop_daemon
chown "root:$SHARED" "$SPOOL/outbox/$ALICE"
setfacl -b "$SPOOL/outbox/$ALICE" "$SPOOL/requests"
chmod 0750 "$SPOOL/outbox/$ALICE"
chmod 0755 "$SPOOL/requests"
start_daemon || exit 1
wait_for 10 sh -c "getfacl -cp '$SPOOL/outbox/$ALICE' 2>/dev/null | grep -q 'user:$ALICE:r-x'"
as "$BOB" cat "$out_a/STATUS" >/dev/null 2>&1
ok $((!$?)) "after a restart, an outbox left open to the group is closed again"
check "and Alice reads it" as "$ALICE" cat "$out_a/STATUS"
as "$PLAIN" cat "$details" >/dev/null 2>&1
ok $((!$?)) "and requests/ left open to all is closed again"
check "the admin reads details.json" as "$ADM1" cat "$details"

# An outbox removed while csodd runs is made again on demand, closed at once
# (not open to the group until the next start).
rm -rf "$SPOOL/outbox/$BOB"
drop_as "$BOB" b2.sha256
wait_state b2.sha256 signed 30 "$BOB"
ok $? "Bob's next request is signed into a new outbox"
like "$(getfacl -cp "$SPOOL/outbox/$BOB" 2>/dev/null)" "user:$BOB:r-x" "the new outbox has Bob's ACL entry"
as "$ALICE" ls "$SPOOL/outbox/$BOB" >/dev/null 2>&1
ok $((!$?)) "and Alice cannot list it"

# approvers_group must name a group.
EXTRA="approvers_group = \"csp-nosuch$S\";"
write_config
out=$(csodd --config "$CONF" --check-config 2>&1)
ok $((!$?)) "an approvers_group that is no group is refused"
like "$out" "approvers_group.*no Unix group \"csp-nosuch$S\"" "with the key and the reason"
check "csodd is still running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
