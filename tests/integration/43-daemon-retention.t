#!/bin/bash
# Signed outputs are removed `retention` after signing; the record stays.
. "$(dirname "$0")/lib.sh"
RETENTION=3s
write_config
start_daemon || exit 1
make_hash_drop r.sha256
drop_by_rename r.sha256
wait_state r.sha256 signed
ok $? "signed"
out=$(request_dir r.sha256)
check "the output is there at first" test -f "$out/r.sha256.p7s"
wait_state r.sha256 expired 20
ok $? "the request expires after the retention time"
check "the signed output is removed" test ! -e "$out/r.sha256.p7s"
check "chain.pem is removed" test ! -e "$out/chain.pem"
is "$(json_field "$out/request.json" state)" expired "request.json says expired"
is "$(db_sql "SELECT state FROM requests WHERE id='$(dir_id "$out")'")" expired \
	"the database record is kept"

# Expiry is driven by the database: it survives a restart.
make_hash_drop s.sha256
drop_by_rename s.sha256
wait_state s.sha256 signed
stop_daemon
sleep 3.5
start_daemon
wait_state s.sha256 expired 20
ok $? "a request due while csodd was down expires after the restart"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
