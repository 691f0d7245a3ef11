#!/bin/bash
# Configuration: --check-config, errors that name file, line and key,
# SIGHUP reloads (a bad one keeps the old config), new developers watched
# without a restart.
. "$(dirname "$0")/lib.sh"
write_config
check "--check-config accepts a good file" csodd --config "$CONF" --check-config

cp "$CONF" "$T_DIR/bad.conf"
sed -i 's/^settle_ms = .*/settle_ms = "fast";/' "$T_DIR/bad.conf"
out=$(csodd --config "$T_DIR/bad.conf" --check-config 2>&1)
rc=$?
is "$rc" 1 "--check-config refuses a bad value"
like "$out" "bad.conf:2: settle_ms: " "naming the file, line and key"

printf 'spool = "/tmp";\nsettle_ms = = 5;\n' >"$T_DIR/syntax.conf"
out=$(csodd --config "$T_DIR/syntax.conf" --check-config 2>&1)
like "$out" "syntax.conf:2:" "a syntax error names the line"

out=$(csodd --config "$T_DIR/missing.conf" 2>&1)
is "$?" 1 "a missing file is an error"
like "$out" "missing.conf" "naming the file"

start_daemon || exit 1
# A bad reload keeps the running config.
cp "$CONF" "$CONF.good"
echo 'bogus_key = 1;' >>"$CONF"
kill -HUP "$DAEMON_PID"
wait_for 10 grep -q "reload refused" "$LOG"
ok $? "a bad reload is refused and logged"
like "$(grep 'reload refused' "$LOG" | tail -1)" "bogus_key" "saying why"
make_hash_drop a.sha256
drop_by_rename a.sha256
wait_state a.sha256 signed
ok $? "the old configuration keeps working"

# A good reload adds a developer, watched at once.
cp "$CONF.good" "$CONF"
DEVELOPERS_EXTRA=', { user = "blondie"; email = "blondie@dithercons.com"; organization = "'"$ORG"'"; }'
write_config
kill -HUP "$DAEMON_PID"
wait_for 10 test -d "$SPOOL/inbox/blondie"
ok $? "a reload creates the new developer's inbox"
make_hash_drop b.sha256
drop_by_rename b.sha256 blondie
wait_state b.sha256 signed 30 blondie
ok $? "and the new developer's drops are signed without a restart"
check "the reload is audited" sh -c "sqlite3 '$SPOOL/state/csod.db' \"SELECT action FROM audit\" | grep -qx config.reload"

# Only one daemon per spool.
csodd --config "$CONF" --foreground 2>"$T_DIR/second.log"
is "$?" 1 "a second csodd on the same spool refuses to start"
like "$(cat "$T_DIR/second.log")" "another csodd" "saying why"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
