#!/bin/bash
# The database and the master key out of the shared spool (state_dir, the
# unit's StateDirectory=), and the master key apart from the database as a
# systemd credential ($CREDENTIALS_DIRECTORY/master.key, from
# LoadCredential=): read, never created, and refused for rotation.
. "$(dirname "$0")/lib.sh"
STATE=$T_DIR/lib/csod
EXTRA="state_dir = \"$STATE\";"
write_config
start_daemon || exit 1
make_hash_drop one.sha256
drop_by_rename one.sha256
wait_state one.sha256 signed 30
ok $? "csodd signs with its state in state_dir"
check "the database is in state_dir" test -s "$STATE/csod.db"
check "and the master key" test -s "$STATE/master.key"
is "$(stat -c %a "$STATE")" 700 "state_dir is the daemon's alone"
check "nothing of it is in the shared spool" test ! -e "$SPOOL/state"
out=$(csodctl --config "$CONF" request list 2>&1)
like "$out" "$(dir_id "$(request_dir one.sha256)")" "csodctl finds the database there"
stop_daemon

# The master key as a credential: the file moves out of state_dir.
mkdir -m 700 "$T_DIR/creds"
mv "$STATE/master.key" "$T_DIR/creds/master.key"
export CREDENTIALS_DIRECTORY=$T_DIR/creds
start_daemon || exit 1
make_hash_drop two.sha256
drop_by_rename two.sha256
wait_state two.sha256 signed 30
ok $? "csodd unseals its keys with the master key from \$CREDENTIALS_DIRECTORY"
check "and creates no master key file beside the database" test ! -e "$STATE/master.key"
stop_daemon
out=$(csodctl --config "$CONF" keys rotate-master 2>&1)
ok $((!$?)) "rotating a credential's read-only copy is refused"
like "$out" "systemd credential" "saying where to rotate instead"
unset CREDENTIALS_DIRECTORY
out=$(csodd --config "$CONF" --foreground 2>&1 &
	pid=$!
	sleep 3
	kill $pid 2>/dev/null
	wait $pid)
like "$out" "master key file .* is missing, but [0-9]+ key\\(s\\) are sealed" "without the credential, csodd refuses to start rather than make a new key"
done_testing
