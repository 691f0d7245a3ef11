#!/bin/bash
# csodctl against a running csodd: listings, details, approvals written as
# marker files, auto-approve, developers, audit chain, report.
. "$(dirname "$0")/lib.sh"
AUTO_APPROVE=false
write_config
start_daemon || exit 1
ctl() { run_tool csodctl --config "$CONF" "$@"; }

make_hash_drop a.sha256
drop_by_rename a.sha256
wait_state a.sha256 created
id=$(dir_id "$(request_dir a.sha256)")
out=$(ctl request list)
like "$out" "$id +dagwood +Dithers" "request list shows the request"
out=$(ctl request list --state signed)
like "$out" "^ID +DEVELOPER" "a state filter's listing has the header"
is "$(printf '%s\n' "$out" | sed 1d)" "" "state filter leaves out created requests (no row under the header)"
like "$(ctl request list --state created)" "$id +dagwood" "and keeps those in the state asked for"
ctl --json request list | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(0 if r[0]["state"]=="created" else 1)'
ok $? "request list --json parses and has the state"
out=$(ctl request show "$id")
md5=$(md5sum "$T_DIR/a.sha256" | cut -d' ' -f1)
sha1=$(sha1sum "$T_DIR/a.sha256" | cut -d' ' -f1)
like "$out" "MD5 +$md5" "request show gives each file's MD5"
like "$out" "SHA-1 +$sha1" "and SHA-1"
like "$out" "Organization: $ORG" "and the organization"

out=$(ctl request approve "$id" -m "ship it")
ok $? "request approve succeeds"
like "$out" "taken by csodd" "and waits for the daemon"
wait_state a.sha256 signed
ok $? "the request is signed"
is "$(json_field "$(request_dir a.sha256)/request.json" message)" "ship it" "with the message"
is "$(json_field "$(request_dir a.sha256)/request.json" approver)" "root" "approved by the caller"
out=$(ctl request approve "$id" 2>&1)
is "$?" 1 "approving a signed request is refused"
like "$out" "is signed, not waiting" "with the reason"
(cd "$T_DIR" && ctl request download "$id" a.sha256.p7s -o "$T_DIR/dl.p7s")
check "request download fetches the signed file" cmp "$T_DIR/dl.p7s" "$(request_dir a.sha256)/a.sha256.p7s"
check "request resend queues the notice" ctl request resend "$id"

make_hash_drop b.sha256
drop_by_rename b.sha256
wait_state b.sha256 created
idb=$(dir_id "$(request_dir b.sha256)")
ctl request decline "$idb" -m "wrong version" >/dev/null
wait_state b.sha256 declined
ok $? "request decline declines"
out=$(ctl request show no-such-id 2>&1)
is "$?" 1 "an unknown id is an error"
like "$out" "no request no-such-id" "saying so"

check "auto-approve on" ctl auto-approve on --organization "$ORG"
like "$(ctl auto-approve status)" "$ORG: on" "status shows it"
make_hash_drop c.sha256
drop_by_rename c.sha256
wait_state c.sha256 signed
ok $? "with auto-approve on, a drop is signed without a marker"

out=$(ctl developer add blondie@dithercons.com --name "Blondie Bumstead" --user blondie --organization "$ORG")
ok $? "developer add"
check "creates the inbox" test -d "$SPOOL/inbox/blondie"
like "$(ctl developer list)" "blondie +blondie@dithercons.com" "developer list shows them"
wait_for 20 test -d "$SPOOL/inbox/blondie"
make_hash_drop d.sha256
drop_by_rename d.sha256 blondie
wait_state d.sha256 signed 30 blondie
ok $? "the new developer's drop is signed without a restart"
check "developer edit" ctl developer edit blondie --name "Blondie B." --department QA
like "$(ctl developer list)" "blondie +blondie@dithercons.com +Blondie B\\. .*QA" "the change shows in developer list"
rm -rf "$SPOOL/inbox/blondie"
check "developer reset re-creates the inbox" sh -c "ctl() { csodctl --config '$CONF' \"\$@\"; }; ctl developer reset blondie && test -d '$SPOOL/inbox/blondie'"
out=$(ctl developer edit blondie --department Kitchen 2>&1)
like "$out" "is not a department of" "developer edit refuses a department of another organization"
ctl --json auto-approve status | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["global"] in ("on","off") else 1)'
ok $? "auto-approve status --json parses"
out=$(ctl developer add x@elsewhere.com --user x --organization "No Such Org" 2>&1)
is "$?" 1 "developer add refuses an unknown organization"

if [ "$(id -u)" = 0 ] && useradd -M -N -s /usr/sbin/nologin csodt-plain$$ 2>/dev/null; then
	chmod 755 "$T_DIR"
	chmod 644 "$CONF"
	out=$(runuser -u csodt-plain$$ -- csodctl --config "$CONF" auto-approve off 2>&1)
	is "$?" 1 "a non-admin may not change auto-approve"
	like "$out" "may not change auto-approve" "and is told so"
	userdel csodt-plain$$
fi

like "$(ctl report)" "Requests per state" "report prints its sections"
check "audit verify passes on an untouched log" ctl audit verify
like "$(ctl audit list)" "settings.auto_approve" "audit list shows admin actions"
db_sql "DELETE FROM audit WHERE id = (SELECT MAX(id) FROM audit)"
out=$(ctl audit verify 2>&1)
is "$?" 1 "audit verify fails after the newest row is deleted"
like "$out" "rows were deleted from the end" "saying so"
db_sql "UPDATE settings SET value = (SELECT id || ':' || hash FROM audit ORDER BY id DESC LIMIT 1) WHERE key = 'audit_head'"
db_sql "UPDATE audit SET detail = 'forged' WHERE id = 3"
out=$(ctl audit verify 2>&1)
is "$?" 1 "audit verify fails after a row is edited"
like "$out" "row 3 was altered" "naming the row"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
