#!/bin/bash
# MRAO, RAO and DRAO scopes with real Unix users: who may approve which
# request, who may add developers where; the loser of a race is told.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
S=$$
add_users mrao rao drao dev2 dev3
A="Dithers Construction Company"
B="Blondie Catering"
write_roles_config() {
	cat >"$CONF" <<CONF
spool = "$SPOOL";
settle_ms = 300;
poll_interval = 1;
auto_approve = false;
mail = { transport = "spool"; };
ca = { backend = "local"; auto_enroll = true; key_bits = 2048; };
organizations = (
  { name = "$A"; departments = [ "Software Development", "QA" ]; },
  { name = "$B"; departments = [ "Kitchen" ]; }
);
developers = (
  { user = "$DEV"; email = "d@x"; organization = "$A"; department = "Software Development"; },
  { user = "csr-dev2$S"; email = "d2@x"; organization = "$B"; department = "Kitchen"; },
  { user = "csr-dev3$S"; email = "d3@x"; organization = "$A"; department = "QA"; }
);
admins = (
  { user = "csr-mrao$S"; email = "m@x"; role = "MRAO"; },
  { user = "csr-rao$S"; email = "r@x"; role = "RAO"; organizations = [ "$A" ]; },
  { user = "csr-drao$S"; email = "q@x"; role = "DRAO"; departments = [ "$A/QA" ]; }
);
$(test_db_config)
CONF
	chmod 644 "$CONF"
}
write_roles_config
start_daemon || exit 1
# As in a deployment where the admins share the daemon's group: they may
# write the database (csodctl audits their commands there).
chmod 1777 "$SPOOL/state"
[ "${CSOD_TEST_DB:-sqlite}" = postgresql ] || chmod 666 "$SPOOL"/state/csod.db*
as() { local u=$1; shift; runuser -u "csr-$u$S" -- "$@"; }
drop_for() { # drop_for DEVUSER NAME -> prints the request id once created
	make_hash_drop "$2"
	drop_by_rename "$2" "$1"
	wait_state "$2" created 30 "$1" && dir_id "$(request_dir "$2" "$1")"
}
reason_of() { cat "$SPOOL/approvals/$1.approve.reason" 2>/dev/null; }
marker() { # marker ADMIN ID
	as "$1" sh -c "printf ok > '$SPOOL/approvals/.$2.t' && mv '$SPOOL/approvals/.$2.t' '$SPOOL/approvals/$2.approve'"
}

id1=$(drop_for "$DEV" r1.sha256)
id2=$(drop_for "csr-dev2$S" r2.sha256)
id3=$(drop_for "csr-dev3$S" r3.sha256)

marker rao "$id2"
wait_for 10 test -f "$SPOOL/approvals/$id2.approve.rejected"
ok $? "an RAO cannot approve a request of another organization"
like "$(reason_of "$id2")" "RAO\) may not approve requests of $B" "the reason names role and organization"
marker rao "$id1"
wait_state r1.sha256 signed
ok $? "an RAO approves in their organization"

marker drao "$id3"
wait_state r3.sha256 signed 30 "csr-dev3$S"
ok $? "a DRAO approves in their department"
id4=$(drop_for "$DEV" r4.sha256)
marker drao "$id4"
wait_for 10 test -f "$SPOOL/approvals/$id4.approve.rejected"
ok $? "a DRAO cannot approve outside their department"
like "$(reason_of "$id4")" "DRAO\) may not approve requests of $A/Software Development" "with the reason"
rm -f "$SPOOL/approvals/$id4.approve.rejected" "$SPOOL/approvals/$id4.approve.reason"

marker mrao "$id2"
wait_state r2.sha256 signed 30 "csr-dev2$S"
ok $? "an MRAO approves anywhere"

# Two admins at once: the first marker wins, the second is told.
as mrao sh -c "printf no > '$SPOOL/approvals/.d.t' && mv '$SPOOL/approvals/.d.t' '$SPOOL/approvals/$id4.decline'"
marker rao "$id4"
wait_for 10 sh -c "test -f '$SPOOL/approvals/$id4.approve.rejected' || test -f '$SPOOL/approvals/$id4.decline.rejected'"
ok $? "of an approve and a decline at once, one is rejected"
st=$(state_of r4.sha256)
like "$st" "^(declined|approved|in_progress|signed)$" "and the request took the other ($st)"
like "$(cat "$SPOOL/approvals/$id4".*.reason)" "not waiting for approval" "the loser is told why"

out=$(as rao csodctl --config "$CONF" developer add x@x --user csr-x$S --organization "$B" 2>&1)
is "$?" 1 "an RAO may not add developers to another organization"
like "$out" "may not add developers in $B" "and is told so"
check "the refusal is audited" sh -c "db_sql \"SELECT action FROM audit WHERE actor='csr-rao$S'\" | grep -q csodctl.refused"
out=$(as rao csodctl --config "$CONF" cert add --email c@x --name C --organization "$B" 2>&1)
is "$?" 1 "an RAO may not enroll certificates in another organization"
like "$out" "may not enroll certificates in $B" "and is told so"
out=$(as drao csodctl --config "$CONF" cert add --email c@x --name C --organization "$A" --department "Software Development" 2>&1)
is "$?" 1 "a DRAO may not enroll certificates outside their department"
like "$out" "may not enroll certificates in $A/Software Development" "and is told so"
# csr-dev3 is a configured developer (of $A/QA) with one request, $id3.
out=$(as dev3 csodctl --config "$CONF" cert add --email c@x --name C --organization "$A" 2>&1)
is "$?" 1 "a developer may not enroll certificates"
like "$out" "is not an administrator" "and is told so"
out=$(as dev3 csodctl --config "$CONF" request list 2>&1)
ok $? "a developer may list requests"
like "$out" "^$id3 +csr-dev3$S " "and sees their own"
is "$(printf '%s\n' "$out" | sed 1d | grep -v "^$id3 ")" "" "but none of the others' ($id1 $id2 $id4)"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
