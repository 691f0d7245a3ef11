#!/bin/bash
# What people read shows what was signed and where they find it: outbox
# folders and mail subjects name the drop and its version; mail and the
# JSON views give paths under share_path (here a Samba share), not the
# server's spool.
. "$(dirname "$0")/lib.sh"
EXTRA='share_path = "\\\\files\\csod";'
write_config
start_daemon || exit 1

make_hash_drop app.sha256
mkdir "$T_DIR/app"
cp "$T_DIR/app.sha256" "$T_DIR/app/"
printf 'version = "2.4.1/rc1";\n' >"$T_DIR/app/request.conf"
mv "$T_DIR/app" "$SPOOL/inbox/$DEV/app"
wait_state app signed 30
ok $? "the folder drop is signed"
out=$(request_dir app)
id=$(json_field "$out/request.json" id)
is "$(basename "$out")" "$id app 2.4.1_rc1" "its outbox folder is named for the request, the drop and the version"
is "$(json_field "$out/request.json" outbox)" "\\\\files\\csod\\outbox\\$DEV\\$id app 2.4.1_rc1" \
	"request.json gives the outbox as the share shows it"
like "$(cat "$SPOOL/requests/$id/details.json")" '"\\\\\\\\files\\\\csod\\\\approvals\\\\'"$id"'\.approve"' \
	"details.json names the approval marker on the share"

mail=$(grep -l "$id" "$SPOOL"/mail/*.eml | xargs grep -l "is signed" | head -1)
check "a signed notice was written" test -n "$mail"
subject=$(/usr/bin/python3 -c 'import email,sys; from email.header import decode_header, make_header; m=email.message_from_file(open(sys.argv[1])); print(str(make_header(decode_header(m["Subject"]))))' "$mail")
is "$subject" "csod: app 2.4.1/rc1 is signed (request $id)" "its subject says what was signed"
body=$(/usr/bin/python3 -c 'import email,sys; m=email.message_from_file(open(sys.argv[1])); print(m.get_payload(decode=True).decode())' "$mail")
like "$body" "\\\\\\\\files\\\\csod\\\\outbox\\\\$DEV\\\\$id app 2.4.1_rc1\\\\app.sha256.p7s" "its body gives the signed file on the share"
check "and not the server's spool" sh -c "! grep -qF '$SPOOL' '$mail'"
verify_p7s "$out/app.sha256.p7s" "$T_DIR/app.sha256.data" 2>/dev/null
ok $? "the signature verifies"

# Retention still finds the outputs in the named folder.
stop_daemon
sqlite3 "$SPOOL/state/csod.db" "UPDATE requests SET expires = 1 WHERE id = '$id'"
start_daemon || exit 1
wait_state app expired 30
ok $? "the request expires"
check "and its outputs are removed from the named folder" test ! -e "$out/app.sha256.p7s"
stop_daemon
done_testing
