#!/bin/bash
# The seed's certificate view, complete: cert show lists key usage,
# extended key usage (read from the certificate), contact email (put into
# the certificate as a subjectAltName when given), domain, requested /
# collected / downloaded; notifications suspended per certificate (a real
# SMTP server gets no expiry mail for it); a developer in two
# organizations picks one per request (request.conf), which decides the
# approver, and cannot pick one that is not theirs.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || skip_all "python3-aiosmtpd not installed"
S=$$
add_users dev drao kitchen
A="Dithers Construction Company"
B="Blondie Catering"
SD="Software Development"
DB=$SPOOL/state/csod.db
SOCK=$SPOOL/run/csod.sock
D=csr-dev$S
MBOX=$T_DIR/mbox
mkdir -p "$MBOX/new" "$MBOX/cur" "$MBOX/tmp"
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$PORT" -c aiosmtpd.handlers.Mailbox "$MBOX" >/dev/null 2>&1 &
SMTP_PID=$!
trap 'kill $SMTP_PID 2>/dev/null; for u in $T_USERS; do userdel "csr-$u$$" 2>/dev/null; done; cleanup' EXIT
wait_for 10 /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT))"
mail_to() { # mail_to ADDRESS SUBJECT-REGEX: files of delivered messages
	grep -l -i "^To: $1" "$MBOX"/new/* 2>/dev/null | while read -r f; do
		grep -q -E "^Subject: .*$2" "$f" && echo "$f"
	done
}
cat >"$CONF" <<CONF
spool = "$SPOOL";
settle_ms = 300;
poll_interval = 1;
auto_approve = false;
mail = { transport = "smtp"; host = "127.0.0.1"; port = $PORT; starttls = "never"; from = "csod@dithercons.com"; retry = "1s"; };
ca = { backend = "local"; auto_enroll = true; key_bits = 2048; };
organizations = (
  { name = "$A"; domains = [ "dithercons.com" ]; departments = [ "$SD", "QA" ]; },
  { name = "$B"; domains = [ "dithercons.com" ]; departments = [ "Kitchen" ]; }
);
developers = (
  { user = "$DEV"; email = "dagwood@dithercons.com"; organization = "$A"; department = "QA"; },
  { user = "$D"; email = "multi@dithercons.com"; organization = "$A"; department = "$SD";
    places = [ "$B/Kitchen" ]; }
);
admins = (
  { user = "csr-drao$S"; email = "sd@dithercons.com"; role = "DRAO"; departments = [ "$A/$SD" ]; },
  { user = "csr-kitchen$S"; email = "kitchen@dithercons.com"; role = "DRAO"; departments = [ "$B/Kitchen" ]; }
);
CONF
start_daemon || exit 1
ctl() { csodctl --config "$CONF" "$@"; }
uctl() { local u=$1; shift; runuser -u "csr-$u$S" -- csodctl --socket "$SOCK" "$@"; }

# --- a developer of two organizations ------------------------------------------
wait_for 30 sh -c "[ \$(sqlite3 '$DB' \"SELECT COUNT(*) FROM certificates WHERE developer='$D' AND state='issued'\") = 2 ]"
ok $? "a developer in two organizations gets a certificate in each"
is "$(sqlite3 "$DB" "SELECT organization || '/' || department FROM certificates WHERE developer='$D' ORDER BY organization")" \
	"$B/Kitchen
$A/$SD" "each in the department of their place there"
like "$(ctl developer list | grep "^$D ")" "$A +$SD  \\(also $B/Kitchen\\)" "developer list shows both places"
is "$(ctl --json developer list | /usr/bin/python3 -c 'import json,sys; print([len(d["places"]) for d in json.load(sys.stdin) if d["user"] == sys.argv[1]][0])' "$D")" 2 \
	"and --json lists them"

folder_drop() { # folder_drop NAME CONF-TEXT: the developer drops folder NAME
	make_hash_drop "$1.sha256"
	chmod 644 "$T_DIR/$1.sha256"
	runuser -u "$D" -- sh -c "mkdir '$SPOOL/inbox/$D/.$1.tmp' && cp '$T_DIR/$1.sha256' '$SPOOL/inbox/$D/.$1.tmp/' &&
		printf '%s\n' '$2' > '$SPOOL/inbox/$D/.$1.tmp/request.conf' &&
		mv '$SPOOL/inbox/$D/.$1.tmp' '$SPOOL/inbox/$D/$1'"
}
make_hash_drop plain.sha256
cp "$T_DIR/plain.sha256" "$SPOOL/inbox/$D/" && chown "$D" "$SPOOL/inbox/$D/plain.sha256"
wait_state plain.sha256 created 30 "$D"
id0=$(dir_id "$(request_dir plain.sha256 "$D")")
is "$(json_field "$(request_dir plain.sha256 "$D")/request.json" department)" "$SD" "without request.conf a request is in their first place"
folder_drop kit "organization = \"$B\";"
wait_state kit created 30 "$D"
ok $? "a request.conf naming their other organization is taken"
idk=$(dir_id "$(request_dir kit "$D")")
rj=$(request_dir kit "$D")/request.json
is "$(json_field "$rj" organization)/$(json_field "$rj" department)" "$B/Kitchen" "filed under it, in their department there"
wait_for 20 sh -c "[ -n \"\$(grep -l '(request $idk)' '$MBOX'/new/* 2>/dev/null | xargs -r grep -l -i '^To: kitchen@')\" ]"
ok $? "the approval mail goes to that department's approver"
check "and not to the other department's" sh -c "! grep -l '(request $idk)' '$MBOX'/new/* | xargs -r grep -q -i '^To: sd@'"
out=$(uctl drao request show "$idk" 2>&1)
is "$?" 1 "the approver of their first department does not see it"
out=$(uctl drao request approve "$idk" 2>&1)
is "$?" 1 "nor may approve it"
like "$(uctl kitchen request show "$idk" 2>&1)" "Department: +Kitchen" "the Kitchen approver sees it"
out=$(uctl kitchen request show "$id0" 2>&1)
is "$?" 1 "but not the request of the first place"
uctl kitchen request approve "$idk" -m ok >/dev/null 2>&1
wait_state kit signed 30 "$D"
ok $? "the Kitchen approver approves it and it is signed"
kcert=$(sqlite3 "$DB" "SELECT certificate_id FROM requests WHERE id='$idk'")
is "$(sqlite3 "$DB" "SELECT organization FROM certificates WHERE id=$kcert")" "$B" "with their certificate of that organization"
check "which verifies" verify_p7s "$(request_dir kit "$D")/kit.sha256.p7s" "$T_DIR/kit.sha256.data"

folder_drop qa "organization = \"$A\";
department = \"QA\";"
wait_state qa failed 30 "$D"
ok $? "a department of their organization that is not theirs is refused"
like "$(cat "$(request_dir qa "$D")/ERROR")" "request.conf: department 'QA' is not yours \\($D is in $A/$SD, $B/Kitchen\\)" \
	"naming their places"
folder_drop other "organization = \"Acme\";"
wait_state other failed 30 "$D"
ok $? "an organization not theirs is refused"
like "$(cat "$(request_dir other "$D")/ERROR")" "request.conf: organization 'Acme' is not yours" "saying so"

out=$(ctl developer add two@dithercons.com --user "two$S" --organization "$A" --department QA --organization "$B" --department Kitchen 2>&1)
ok $? "developer add takes more than one organization/department"
is "$(sqlite3 "$DB" "SELECT places FROM developers WHERE user='two$S'")" "[[\"$A\",\"QA\"],[\"$B\",\"Kitchen\"]]" "both are recorded, the first as default"
out=$(uctl kitchen developer add three@dithercons.com --user "three$S" --organization "$B" --department Kitchen --organization "$A" --department QA 2>&1)
is "$?" 1 "an admin may not add a developer to a place outside their scope"
out=$(ctl developer edit "two$S" --organization "$B" --department Kitchen 2>&1)
ok $? "developer edit replaces the places"
is "$(sqlite3 "$DB" "SELECT organization || '|' || department || '|' || places FROM developers WHERE user='two$S'")" \
	"$B|Kitchen|[[\"$B\",\"Kitchen\"]]" "the first given is the default"
out=$(ctl developer add bad@dithercons.com --user "bad$S" --organization "$A" --department Kitchen 2>&1)
is "$?" 1 "a department of another organization is refused"

# --- the certificate view -------------------------------------------------------
out=$(ctl cert add --email multi@dithercons.com --organization "$A" --department "$SD" \
	--contact-email support@dithercons.com --domain dithercons.com --csod)
ok $? "cert add with a contact email and a domain"
cid=$(printf '%s' "$out" | sed -n 's/^certificate \([0-9]*\) ordered.*/\1/p')
wait_for 20 sh -c "sqlite3 '$DB' \"SELECT state FROM certificates WHERE id=$cid\" | grep -qx issued"
ok $? "it is issued"
show=$(ctl cert show "$cid")
like "$show" "Key usage +Digital Signature" "cert show: key usage"
like "$show" "Extended key usage +1\\.3\\.6\\.1\\.5\\.5\\.7\\.3\\.3 \\(Code Signing\\)" "extended key usage"
like "$show" "Contact email +support@dithercons\\.com" "contact email"
like "$show" "Domain +dithercons\\.com" "domain"
like "$show" "Requested +20[0-9-]+ [0-9:]+" "requested"
like "$show" "Collected +20[0-9-]+ [0-9:]+" "collected"
like "$show" "Downloaded +-" "not downloaded yet"
like "$show" "Notifications +on" "notifications on"
ctl cert download "$cid" >"$T_DIR/c.pem"
like "$(openssl x509 -in "$T_DIR/c.pem" -noout -ext subjectAltName 2>&1)" "email:support@dithercons\\.com" \
	"the contact email is in the certificate (subjectAltName rfc822Name)"
like "$(ctl cert show "$cid")" "Downloaded +20[0-9-]+ [0-9:]+" "downloaded is set by the download"
ctl cert show "$cid" --json | /usr/bin/python3 -c '
import json, re, sys
d = json.load(sys.stdin)
iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
assert d["key_usage"] == ["Digital Signature"], d
assert d["extended_key_usage"] == ["1.3.6.1.5.5.7.3.3"], d
assert d["contact_email"] == "support@dithercons.com" and d["domain"] == "dithercons.com", d
assert iso.match(d["requested"]) and iso.match(d["collected"]) and iso.match(d["downloaded"]), d
assert d["notifications_suspended"] is False, d'
ok $? "cert show --json has the same fields"
auto=$(sqlite3 "$DB" "SELECT id FROM certificates WHERE developer='$DEV' AND state='issued' LIMIT 1")
like "$(ctl cert show "$auto")" "Contact email +-" "an auto-enrolled certificate has no contact email"
check "and none in it" sh -c "! csodctl --config '$CONF' cert download $auto | openssl x509 -noout -text | grep -q 'Subject Alternative Name'"

# --- suspend notifications -------------------------------------------------------
ca=$(sqlite3 "$DB" "SELECT id FROM certificates WHERE developer='$D' AND organization='$A' AND contact_email IS NULL")
cb=$(sqlite3 "$DB" "SELECT id FROM certificates WHERE developer='$D' AND organization='$B'")
out=$(uctl drao cert suspend-notifications "$cb" 2>&1)
is "$?" 1 "an admin out of the certificate's scope may not suspend its notifications"
out=$(uctl kitchen cert suspend-notifications "$cb" 2>&1)
ok $? "the Kitchen DRAO suspends notifications for the $B certificate"
like "$(ctl cert show "$cb")" "Notifications +suspended" "cert show says so"
sqlite3 "$DB" "UPDATE certificates SET expires = strftime('%s','now') + 5 * 86400 WHERE id IN ($ca, $cb)"
wait_for 60 sh -c "[ -n \"\$(grep -l 'certificate $ca expires on' '$MBOX'/new/* 2>/dev/null)\" ]"
ok $? "a certificate that expires soon is mailed about"
sleep 2
check "the suspended one is not" sh -c "! grep -q 'certificate $cb expires on' '$MBOX'/new/* 2>/dev/null"
check "and its state is not remembered as warned" sh -c "[ -z \"\$(sqlite3 '$DB' \"SELECT 1 FROM settings WHERE key='cert_expiring:$cb'\")\" ]"
ctl cert resume-notifications "$cb" >/dev/null
wait_for 60 sh -c "grep -q 'certificate $cb expires on' '$MBOX'/new/* 2>/dev/null"
ok $? "resumed, its expiry is mailed"
check "to the Kitchen approver" sh -c "grep -l 'certificate $cb expires on' '$MBOX'/new/* | xargs grep -q -i '^To: kitchen@'"
check "the suspension and the resumption are audited" sh -c \
	"sqlite3 '$DB' \"SELECT actor||' '||action FROM audit WHERE object='$cb'\" | grep -q 'csr-kitchen$S cert.notifications_suspended' && sqlite3 '$DB' \"SELECT action FROM audit WHERE object='$cb'\" | grep -q cert.notifications_resumed"
check "csodd is still running" daemon_alive
done_testing
