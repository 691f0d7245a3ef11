#!/bin/bash
# Keys at rest and the certificate policy: the master key file's rules, no
# private key in the clear in the database, a wrong master key, revocation.
. "$(dirname "$0")/lib.sh"
write_config
start_daemon || exit 1
stop_daemon
DB=$SPOOL/state/csod.db
if [ "${CSOD_TEST_DB:-sqlite}" = postgresql ]; then
	# The server's rows as a file for the checks below: a dump, and the
	# keys' blobs as their bytes (a dump shows them in hex).
	DB=$T_DIR/db-dump
	"$PG_BIN/pg_dump" -d "$PG_CONNINFO" >"$DB"
	db_sql "SELECT encode(blob, 'hex') FROM keys WHERE blob IS NOT NULL" |
		/usr/bin/python3 -c 'import sys; [sys.stdout.buffer.write(bytes.fromhex(l.strip())) for l in sys.stdin]' >>"$DB"
fi
KEY=$SPOOL/state/master.key
is "$(stat -c %a "$KEY")" 400 "the master key file is created with mode 0400"
is "$(stat -c %s "$KEY")" 32 "and holds 32 random bytes"
check "the database holds no PEM private key" sh -c "! grep -a -q 'PRIVATE KEY' '$DB'"
# The developer key's modulus, from its certificate: in a PKCS#8 key in the
# clear it would appear as raw bytes.
db_sql "SELECT cert_pem FROM certificates WHERE developer='$DEV'" >"$T_DIR/dev.pem"
mod=$(openssl x509 -in "$T_DIR/dev.pem" -noout -modulus | cut -d= -f2)
/usr/bin/python3 - "$DB" "$mod" <<'PY'
import sys
db = open(sys.argv[1], "rb").read()
for name in ("-wal",):
    try:
        db += open(sys.argv[1] + name, "rb").read()
    except OSError:
        pass
modulus = bytes.fromhex(sys.argv[2])
sys.exit(1 if modulus[:32] in db else 0)
PY
ok $? "the key's modulus is nowhere in the database files (sealed)"
check "keys are stored with their algorithm, sealed" sh -c "db_sql \"SELECT COUNT(*) FROM keys WHERE length(blob) > 100\" | grep -qv '^0$'"

chmod 0440 "$KEY"
csodd --config "$CONF" --foreground 2>"$T_DIR/loose.log"
is "$?" 1 "a master key file readable by its group is refused"
like "$(cat "$T_DIR/loose.log")" "master key file .* has mode 0440" "naming the file and the mode"
chmod 0400 "$KEY"
cp "$KEY" "$T_DIR/master.key.good"
chmod 600 "$KEY"; head -c 32 /dev/urandom >"$KEY"; chmod 400 "$KEY"
start_daemon || exit 1
make_hash_drop w.sha256
drop_by_rename w.sha256
wait_state w.sha256 failed
ok $? "with a wrong master key, signing fails"
like "$(cat "$(request_dir w.sha256)/ERROR")" "cannot be unsealed: wrong master key" "saying why"
check "and its store copy is removed" test ! -e "$SPOOL/store/$(dir_id "$(request_dir w.sha256)")"
stop_daemon
chmod 600 "$KEY"; cp "$T_DIR/master.key.good" "$KEY"; chmod 400 "$KEY"

start_daemon || exit 1
make_hash_drop a.sha256
drop_by_rename a.sha256
wait_state a.sha256 signed
ok $? "with the right master key it signs again"
ctl() { csodctl --config "$CONF" "$@"; }
like "$(ctl cert list)" "issued .*$ORG" "cert list shows the issued certificate"
cid=$(db_sql "SELECT id FROM certificates WHERE developer='$DEV' AND state='issued'")
like "$(ctl cert show "$cid")" "State +issued" "cert show gives its state"
ctl cert download "$cid" >"$T_DIR/dl.pem"
check "cert download gives the certificate" openssl x509 -in "$T_DIR/dl.pem" -noout
like "$(openssl x509 -in "$T_DIR/dl.pem" -noout -ext extendedKeyUsage)" "Code Signing" "with the codeSigning EKU"
check "cert revoke" ctl cert revoke "$cid" --reason keyCompromise
make_hash_drop b.sha256
drop_by_rename b.sha256
wait_state b.sha256 failed
ok $? "a request after the revocation fails"
sleep 2
is "$(db_sql "SELECT COUNT(*) FROM certificates WHERE developer='$DEV' AND state='issued'")" 0 "and no new certificate is enrolled behind the revocation"
like "$(cat "$(request_dir b.sha256)/ERROR")" "is revoked: keyCompromise" "naming the revocation"
check "the revocation is audited" sh -c "db_sql \"SELECT action FROM audit\" | grep -qx cert.revoked"

# cert add, renew, download as PKCS#7.
out=$(ctl cert add --email dagwood@elsewhere.com --organization "$ORG" 2>&1)
is "$?" 1 "cert add with an email outside the organization's domains is refused"
like "$out" "not in a domain of $ORG" "naming the domain rule"
out=$(ctl cert add --email dagwood@dithercons.com --organization "$ORG" --algorithm ecdsa --key-size 2048 2>&1)
like "$out" "--key-size 2048 is not valid for ecdsa" "a key size that does not fit the algorithm is refused"
out=$(ctl cert add --email dagwood@dithercons.com --name "Dagwood Bumstead" --organization "$ORG" \
	--department "Software Development" --algorithm ecdsa --key-size 384 --term 2 --csod)
ok $? "cert add orders an ECDSA P-384 certificate"
nid=$(printf '%s' "$out" | sed -n 's/^certificate \([0-9]*\) ordered.*/\1/p')
wait_for 20 sh -c "db_sql \"SELECT state FROM certificates WHERE id=$nid\" | grep -qx issued"
ok $? "csodd issues it"
ctl cert download "$nid" --format pkcs7 >"$T_DIR/dl.p7b"
like "$(openssl pkcs7 -in "$T_DIR/dl.p7b" -print_certs -noout 2>&1)" "subject=.*Dagwood Bumstead" "cert download --format pkcs7 gives a PKCS#7 bundle"
is "$(openssl pkcs7 -in "$T_DIR/dl.p7b" -print_certs | grep -c 'BEGIN CERTIFICATE')" 2 "with the certificate and the CA"
like "$(openssl pkcs7 -in "$T_DIR/dl.p7b" -print_certs | openssl x509 -noout -text)" "ASN1 OID: secp384r1" "the key is P-384"
make_hash_drop n.sha256
drop_by_rename n.sha256
wait_state n.sha256 signed
ok $? "the new certificate signs"
out=$(ctl cert renew "$nid")
ok $? "cert renew orders a new certificate"
rid=$(printf '%s' "$out" | sed -n 's/^certificate \([0-9]*\) ordered.*/\1/p')
wait_for 20 sh -c "db_sql \"SELECT state FROM certificates WHERE id=$rid\" | grep -qx issued"
ok $? "with the same fields, issued"
is "$(db_sql "SELECT algorithm || key_bits || term_years FROM certificates WHERE id=$rid")" "ec3842" "same algorithm, size and term"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
