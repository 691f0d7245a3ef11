#!/bin/bash
# The pipeline end to end with the hash service: drops by rename, by copy
# (settle) and as folders (READY, or settle), signed on auto-approve and
# judged by openssl cms.
. "$(dirname "$0")/lib.sh"

write_config
start_daemon
ok $? "csodd starts on an empty spool and creates the layout"
for d in inbox outbox approvals approvals/done requests ca/pending ca/issued mail store state tmp; do
	[ -d "$SPOOL/$d" ] || fail "spool has $d"
done
pass "spool layout as in DESIGN.md"
check "master key file is mode 0400" test "$(stat -c %a "$SPOOL/state/master.key")" = 400

# 1. by rename: taken at once
make_hash_drop one.sha256
drop_by_rename one.sha256
wait_state one.sha256 signed
ok $? "a drop by rename is signed"
out=$(request_dir one.sha256)
check "signature verifies with openssl cms against the original file" \
	verify_p7s "$out/one.sha256.p7s" "$T_DIR/one.sha256.data"
head -c 100 /dev/urandom >"$T_DIR/other.data"
! verify_p7s "$out/one.sha256.p7s" "$T_DIR/other.data" 2>/dev/null
ok $? "and does not verify against another file"
check "chain.pem is in the outbox" grep -q "BEGIN CERTIFICATE" "$out/chain.pem"
is "$(json_field "$out/request.json" state)" signed "request.json says signed"
is "$(json_field "$out/request.json" developer)" "$DEV" "request.json names the developer"
is "$(json_field "$out/request.json" organization)" "$ORG" "request.json names the organization"
like "$(json_field "$out/request.json" expires)" '^20[0-9]{2}-' "request.json has the expiry time"
sha=$(sha256sum "$T_DIR/one.sha256" | cut -d' ' -f1)
check "request.json records the input's SHA-256" grep -q "$sha" "$out/request.json"
id=$(dir_id "$out")
like "$id" '^[0-9]{8}-[0-9]{6}-[a-z0-9]{4}$' "request id is short and sortable"
check "details.json for approvers" grep -q "\"sha256\": \"$sha\"" "$SPOOL/requests/$id/details.json"
check "the store copy is gone once signed" test ! -e "$SPOOL/store/$id"
check "the inbox is empty again" test -z "$(ls -A "$SPOOL/inbox/$DEV")"

# 2. by copy, written slowly: taken only after it settled
make_hash_drop slow.sha256
{
	head -c 40 "$T_DIR/slow.sha256"
	sleep 0.15
	tail -c +41 "$T_DIR/slow.sha256"
} >"$SPOOL/inbox/$DEV/slow.sha256"
wait_state slow.sha256 signed
ok $? "a drop by copy is signed after settling"
check "whole file was taken, signature verifies" \
	verify_p7s "$(request_dir slow.sha256)/slow.sha256.p7s" "$T_DIR/slow.sha256.data"

# 3. a folder with READY and request.conf
mkdir "$T_DIR/batch"
for n in a b; do
	head -c 1000 /dev/urandom >"$T_DIR/batch/$n.bin"
	(cd "$T_DIR/batch" && sha256sum "$n.bin" >"$n.sha256")
done
(cd "$T_DIR/batch" && sha1sum a.bin | cut -d' ' -f1 >c.sha1)
cat >"$T_DIR/batch/request.conf" <<'CONF'
version = "2.4.1";
digests = [ "sha256", "sha1" ];
CONF
mkdir "$SPOOL/inbox/$DEV/batch"
cp "$T_DIR/batch/"*.sha256 "$T_DIR/batch/c.sha1" "$T_DIR/batch/request.conf" "$SPOOL/inbox/$DEV/batch/"
touch "$SPOOL/inbox/$DEV/batch/READY"
wait_state batch signed
ok $? "a folder with READY is one request"
out=$(request_dir batch)
is "$(json_field "$out/request.json" version)" "2.4.1" "request.conf's version is recorded"
check "file a verifies" verify_p7s "$out/a.sha256.p7s" "$T_DIR/batch/a.bin"
check "file b verifies" verify_p7s "$out/b.sha256.p7s" "$T_DIR/batch/b.bin"
check "a bare SHA-1 digest verifies" verify_p7s "$out/c.sha1.p7s" "$T_DIR/batch/a.bin"
check "READY and request.conf are not signed" test ! -e "$out/READY.p7s" -a ! -e "$out/request.conf.p7s"

# A hash file is signed with its own digest's algorithm: digests asked for
# in request.conf that do not include it fail the request, not pass unheard.
mkdir "$T_DIR/asked"
(cd "$T_DIR/asked" && sha256sum ../batch/a.bin >a.sha256 && printf 'digests = [ "sha1" ];\n' >request.conf)
mkdir "$SPOOL/inbox/$DEV/asked"
cp "$T_DIR/asked/"* "$SPOOL/inbox/$DEV/asked/"
touch "$SPOOL/inbox/$DEV/asked/READY"
wait_state asked failed
ok $? "digests = [ \"sha1\" ] on a SHA-256 file fails the request"
like "$(cat "$(request_dir asked)/ERROR")" "a.sha256: holds a sha256 digest, which is signed as given: the digest asked for \\(sha1\\) cannot apply" \
	"naming the file and the reason"
is "$(json_field "$(request_dir asked)/request.json" approved)" "" "at intake, before any approval"

# 4. a folder without READY: taken once quiet
mkdir "$SPOOL/inbox/$DEV/quiet"
make_hash_drop q.sha256
cp "$T_DIR/q.sha256" "$SPOOL/inbox/$DEV/quiet/"
wait_state quiet signed
ok $? "a folder without READY is taken once it settles"

# 5. temporary names are left alone
echo "abc" >"$SPOOL/inbox/$DEV/upload.part"
echo "abc" >"$SPOOL/inbox/$DEV/.hidden"
sleep 1.5
check "in-progress names stay in the inbox" test -f "$SPOOL/inbox/$DEV/upload.part" -a -f "$SPOOL/inbox/$DEV/.hidden"

check "mail for the developer was spooled" sh -c "grep -l 'dagwood@dithercons.com' '$SPOOL'/mail/*.eml"
/usr/bin/python3 - "$SPOOL"/mail/*.eml <<'PY'
import email, email.policy, sys
for path in sys.argv[1:]:
    m = email.message_from_binary_file(open(path, "rb"), policy=email.policy.default)
    assert m["To"] and m["From"] and m["Subject"] and m["Date"] and m["Message-ID"], path
    assert m.get_content_type() == "text/plain" and m.get_content_charset() == "utf-8", path
    assert m.get_content().strip(), path
PY
ok $? "every spooled .eml parses as RFC 5322 mail with the headers a mail client needs"
check "csodd is still running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly on SIGTERM"
done_testing
