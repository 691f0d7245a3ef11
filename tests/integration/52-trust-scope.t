#!/bin/bash
# Trust and scope, with real Unix users: a requester cannot pick their
# approver through request.conf; DRAO scopes are Organization/Department
# only; csodctl developer add does not move an existing developer; only
# certificates enabled for code signing on demand sign; cert add --domain
# stays in the organization's domains; csod.conf wins over csodctl for the
# developers it defines.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
S=$$
add_users dev dev2 drao rao
A="$ORG"
B="Blondie Catering"
SD="Software Development"
ME=csr-dev$S    # a developer of $A/$SD who drops as themselves
NODEPT=nodept$S # a developer of $A in no department
DEV2=csr-dev2$S # a developer of $B

write_trust_config() { # AUTO_ENROLL, EXTRA_DEVELOPER vary it
	cat >"$CONF" <<CONF
spool = "$SPOOL";
settle_ms = 300;
poll_interval = 1;
auto_approve = false;
mail = { transport = "spool"; from = "csod@dithercons.com"; };
ca = { backend = "local"; auto_enroll = ${AUTO_ENROLL:-false}; key_bits = 2048; };
organizations = (
  { name = "$A"; domains = [ "dithercons.com" ]; departments = [ "$SD", "QA" ]; },
  { name = "$B"; domains = [ "blondie.example", "blondie.test" ];
    departments = [ "Kitchen", "QA" ]; auto_approve = true; }
);
developers = (
  { user = "$DEV"; email = "dagwood@dithercons.com"; organization = "$A"; department = "$SD"; },
  { user = "$ME"; email = "me$S@dithercons.com"; organization = "$A"; department = "$SD"; },
  { user = "$DEV2"; email = "d2$S@blondie.example"; organization = "$B"; department = "Kitchen"; }
  ${EXTRA_DEVELOPER:-}
);
admins = (
  { user = "root"; email = "root@dithercons.com"; role = "MRAO"; },
  { user = "csr-drao$S"; email = "drao@dithercons.com"; role = "DRAO"; departments = [ "$A/QA" ]; },
  { user = "csr-rao$S"; email = "rao@dithercons.com"; role = "RAO"; organizations = [ "$A" ]; }
);
CONF
	chmod 644 "$CONF"
}
EXTRA_DEVELOPER=", { user = \"$NODEPT\"; email = \"nodept$S@dithercons.com\"; organization = \"$A\"; }"
write_trust_config

# --- DRAO scopes are Organization/Department ---------------------------------
sed "s|departments = \[ \"$A/QA\" \]|departments = [ \"QA\" ]|" "$CONF" >"$T_DIR/bare.conf"
out=$(csodd --config "$T_DIR/bare.conf" --check-config 2>&1)
is "$?" 1 "--check-config refuses a bare department name in a DRAO's scope"
like "$out" "bare.conf:[0-9]+: admins\[1\]\.departments: \"QA\" is a bare department name; a scope is \"Organization/Department\"" \
	"naming the file, the line and the reason"
sed "s|departments = \[ \"$A/QA\" \]|departments = [ \"$A/Sales\" ]|" "$CONF" >"$T_DIR/nodept.conf"
out=$(csodd --config "$T_DIR/nodept.conf" --check-config 2>&1)
is "$?" 1 "--check-config refuses a scope naming no department of the organization"
like "$out" "\"$A/Sales\" is not \"Organization/Department\" of a department in organizations" "with the reason"
check "--check-config accepts Organization/Department" csodd --config "$CONF" --check-config

start_daemon || exit 1
# As in a deployment where the admins share the daemon's group (csodctl
# audits their commands in the database).
chmod 1777 "$SPOOL/state"
chmod 666 "$SPOOL"/state/csod.db*
DB=$SPOOL/state/csod.db
ctl() { csodctl --config "$CONF" "$@"; }
as() { local u=$1; shift; runuser -u "$u" -- "$@"; }
dir_of() { request_dir "$1" "$2"; }                 # dir_of DROP DEV
status_of() { cat "$(dir_of "$1" "$2")/STATUS" 2>/dev/null; }
in_state() { # in_state DROP DEV STATE...: the request of DROP is in one of the STATEs
	local st
	st=$(status_of "$1" "$2") || return 1
	shift 2
	for s in "$@"; do [ "$st" = "$s" ] && return 0; done
	return 1
}
cert_issued() { wait_for 30 sh -c "sqlite3 '$DB' \"SELECT state FROM certificates WHERE id=$1\" | grep -qx issued"; }
cert_id() { sed -n 's/^certificate \([0-9]*\) ordered.*/\1/p'; }

# The developers that sign get a CSoD-enabled certificate (no auto-enroll).
cid=$(ctl cert add --email "me$S@dithercons.com" --organization "$A" --department "$SD" --csod | cert_id)
cert_issued "$cid"
ok $? "a CSoD-enabled certificate for $ME is issued"

# --- request.conf cannot re-file a request under another department ---------
# folder_drop DEV NAME CONF-TEXT: DEV drops folder NAME (a hash file and a
# request.conf) as themselves, by rename.
folder_drop() {
	make_hash_drop "$2.sha256"
	chmod 644 "$T_DIR/$2.sha256"
	as "$1" sh -c "mkdir '$SPOOL/inbox/$1/.$2.tmp' && cp '$T_DIR/$2.sha256' '$SPOOL/inbox/$1/.$2.tmp/' &&
		printf '%s\n' '$3' > '$SPOOL/inbox/$1/.$2.tmp/request.conf' &&
		mv '$SPOOL/inbox/$1/.$2.tmp' '$SPOOL/inbox/$1/$2'"
}
folder_drop "$ME" qa "department = \"QA\";"
ok $? "the developer drops a folder whose request.conf names department QA"
wait_for 30 in_state qa "$ME" failed created
id=$(dir_id "$(dir_of qa "$ME")")
is "$(status_of qa "$ME")" failed "a request.conf naming a department that is not the developer's is refused"
like "$(cat "$(dir_of qa "$ME")/ERROR" 2>/dev/null)" "request.conf: department 'QA' is not yours \($ME is in $A/$SD\)" \
	"with an ERROR naming the department and the developer's own"
is "$(json_field "$(dir_of qa "$ME")/request.json" department)" "$SD" "the request stays filed under the developer's department"
# The attack's goal: the QA DRAO approving it.
as "csr-drao$S" sh -c "printf ok > '$SPOOL/approvals/.$id.t' && mv '$SPOOL/approvals/.$id.t' '$SPOOL/approvals/$id.approve'"
wait_for 10 test -f "$SPOOL/approvals/$id.approve.rejected"
ok $? "the QA DRAO's marker for it is rejected"
sleep 1
is "$(status_of qa "$ME")" failed "and nothing is signed"

folder_drop "$ME" own "organization = \"$A\";
department = \"$SD\";"
wait_state own created 30 "$ME"
ok $? "a request.conf repeating the developer's own organization and department is accepted"
id=$(dir_id "$(dir_of own "$ME")")
as "csr-drao$S" sh -c "printf ok > '$SPOOL/approvals/.$id.t' && mv '$SPOOL/approvals/.$id.t' '$SPOOL/approvals/$id.approve'"
wait_for 10 test -f "$SPOOL/approvals/$id.approve.rejected"
ok $? "and the QA DRAO still cannot approve it"
like "$(cat "$SPOOL/approvals/$id.approve.reason")" "may not approve requests of $A/$SD" "the reason names the developer's department"

folder_drop "$ME" otherorg "organization = \"$B\";"
wait_state otherorg failed 30 "$ME"
ok $? "a request.conf naming another organization is refused"
like "$(cat "$(dir_of otherorg "$ME")/ERROR" 2>/dev/null)" "request.conf" "the ERROR names request.conf"

# A developer in no department cannot pick one either (dropped by root: the
# content of request.conf is the attack, not who writes it).
mkdir "$T_DIR/nd"
make_hash_drop nd.sha256
cp "$T_DIR/nd.sha256" "$T_DIR/nd/"
printf 'department = "QA";\n' >"$T_DIR/nd/request.conf"
mv "$T_DIR/nd" "$SPOOL/inbox/$NODEPT/nd"
wait_for 30 in_state nd "$NODEPT" failed created
is "$(status_of nd "$NODEPT")" failed "a developer in no department cannot name one in request.conf"
like "$(cat "$(dir_of nd "$NODEPT")/ERROR" 2>/dev/null)" "department 'QA' is not yours \($NODEPT is in $A, no department\)" "with the reason"

# --- csodctl developer add does not move an existing developer ---------------
out=$(as "csr-rao$S" csodctl --config "$CONF" developer add "x$S@dithercons.com" --user "$DEV2" --organization "$A" 2>&1)
is "$?" 1 "developer add of an existing developer is refused (an RAO of $A moving one of $B)"
like "$out" "developer $DEV2 exists \(in $B/Kitchen\); use csodctl developer edit" "pointing to developer edit"
is "$(sqlite3 "$DB" "SELECT organization || '/' || department FROM developers WHERE user='$DEV2'")" "$B/Kitchen" "the developer stays where they were"
out=$(as "csr-rao$S" csodctl --config "$CONF" developer edit "$DEV2" --organization "$A" 2>&1)
is "$?" 1 "and developer edit makes the scope check"
out=$(ctl developer add "x$S@dithercons.com" --user "$DEV2" --organization "$A" 2>&1)
is "$?" 1 "developer add over an existing developer is refused for root too"

# --- only certificates enabled for code signing on demand sign ----------------
out=$(ctl cert add --email "d2$S@blondie.example" --organization "$B" --domain dithercons.com 2>&1)
is "$?" 1 "cert add --domain outside the organization's domains is refused"
like "$out" "refused: --domain dithercons.com is not a domain of $B \(its domains: blondie.example, blondie.test\)" "listing the domains"
plain=$(ctl cert add --email "d2$S@blondie.example" --organization "$B" --department Kitchen --domain blondie.test | cert_id)
cert_issued "$plain"
ok $? "cert add with an organization domain and without --csod is issued"
like "$(ctl cert list)" "^$plain .* no$" "and listed as not CSoD-enabled"
make_hash_drop n1.sha256
drop_by_rename n1.sha256 "$DEV2"
wait_for 30 in_state n1.sha256 "$DEV2" failed signed
is "$(status_of n1.sha256 "$DEV2")" failed "a developer with only a certificate outside CSoD cannot have a request signed"
like "$(cat "$(dir_of n1.sha256 "$DEV2")/ERROR" 2>/dev/null)" \
	"no certificate of developer $DEV2 in organization $B is enabled for code signing on demand \(certificate $plain is not" \
	"with a reason that says so"
check "no signature was published" test ! -e "$(dir_of n1.sha256 "$DEV2")/n1.sha256.p7s"

# Auto-enrolled certificates are CSoD-enabled: with auto_enroll on, $DEV2
# (whose only certificate is outside CSoD) gets one and can sign.
AUTO_ENROLL=true write_trust_config
kill -HUP "$DAEMON_PID"
wait_for 30 sh -c "sqlite3 '$DB' \"SELECT COUNT(*) FROM certificates WHERE developer='$DEV2' AND csod=1 AND state='issued'\" | grep -qx 1"
ok $? "auto-enroll gives a developer without a CSoD-enabled certificate one"
make_hash_drop n2.sha256
drop_by_rename n2.sha256 "$DEV2"
wait_state n2.sha256 signed 30 "$DEV2"
ok $? "which signs"
used=$(sqlite3 "$DB" "SELECT certificate_id FROM requests WHERE id='$(dir_id "$(dir_of n2.sha256 "$DEV2")")'")
is "$(sqlite3 "$DB" "SELECT csod FROM certificates WHERE id=${used:-0}")" 1 "with the CSoD-enabled certificate, not certificate $plain"
check "and the signature verifies" verify_p7s "$(dir_of n2.sha256 "$DEV2")/n2.sha256.p7s" "$T_DIR/n2.sha256.data"

# --- csod.conf wins: csodctl does not remove or change its developers --------
out=$(ctl developer remove "$DEV" 2>&1)
is "$?" 1 "developer remove refuses a developer defined in csod.conf"
like "$out" "$DEV is defined in $CONF; remove them there and reload" "pointing to the file"
like "$(ctl developer list)" "^$DEV " "and the developer is still listed"
out=$(ctl developer edit "$DEV" --department QA 2>&1)
is "$?" 1 "developer edit refuses a developer defined in csod.conf too"
like "$out" "$DEV is defined in $CONF; change them there and reload" "pointing to the file"
check "developer add of a database-only developer" ctl developer add "tmp$S@dithercons.com" --user "tmp$S" --organization "$A"
check "developer remove removes them" ctl developer remove "tmp$S"
# The file drops $NODEPT: the reload removes them.
AUTO_ENROLL=true EXTRA_DEVELOPER= write_trust_config
kill -HUP "$DAEMON_PID"
wait_for 10 sh -c "! csodctl --config '$CONF' developer list | grep -q '^$NODEPT '"
ok $? "a developer taken out of csod.conf is removed by the reload"
list=$(ctl developer list)
like "$list" "^$DEV " "the file's developers stay after the reload"
if printf '%s\n' "$list" | grep -q "^tmp$S "; then fail "a developer removed with csodctl stays removed"; else pass "a developer removed with csodctl stays removed"; fi
check "the reload's removal is audited" sh -c "sqlite3 '$DB' \"SELECT object || ' ' || detail FROM audit WHERE action='developer.remove' AND actor='csodd'\" | grep -q '^$NODEPT no longer in the configuration file'"
out=$(ctl developer add "nodept$S@dithercons.com" --user "$NODEPT" --organization "$A" 2>&1)
ok $? "a developer the file dropped can be added again with csodctl ($out)"
check "and removed with csodctl" ctl developer remove "$NODEPT"

check "csodd is still running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
