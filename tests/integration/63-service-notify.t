#!/bin/bash
# csodd as systemd sees it (Type=notify): READY=1 once started, RELOADING=1
# then READY=1 around a reload, STOPPING=1, the watchdog fed; log lines
# carrying their syslog priority when stderr is journald's stream (so that
# `journalctl -p err` finds errors); and the unit's ExecReload= failing on a
# configuration csodd would refuse. systemd is not running here: a datagram
# socket stands in for NOTIFY_SOCKET and a file for the journal's stream.
. "$(dirname "$0")/lib.sh"
UNIT=$CSOD_TOP/systemd/csodd.service.in
write_config

NOTIFY=$T_DIR/notify.sock
"$CSOD_TOP/tests/integration/helpers/notify_listener.py" "$NOTIFY" "$T_DIR/notify.log" &
LISTENER=$!
trap 'kill $LISTENER 2>/dev/null; cleanup' EXIT
wait_for 10 test -S "$NOTIFY"
: >"$LOG"
# JOURNAL_STREAM names stderr's device and inode, as systemd sets it.
exec 3>>"$LOG"
journal_stream=$(stat -c '%d:%i' "$LOG")
NOTIFY_SOCKET=$NOTIFY WATCHDOG_USEC=400000 JOURNAL_STREAM=$journal_stream \
	csodd --config "$CONF" --foreground 2>&3 &
DAEMON_PID=$!
export WATCHDOG_PID=$DAEMON_PID
wait_for 30 grep -q "READY=1" "$T_DIR/notify.log"
ok $? "csodd says READY=1 once started"
like "$(grep READY=1 "$T_DIR/notify.log" | head -1)" "STATUS=running" "with a status line"
check "the inboxes exist by then" test -d "$SPOOL/inbox/$DEV"
sleep 1
n=$(grep -c "^WATCHDOG=1" "$T_DIR/notify.log")
check "the watchdog is fed from the loop while it idles ($n in a second, interval 0.2 s)" test "$n" -ge 3

kill -HUP "$DAEMON_PID"
wait_for 10 sh -c "grep -n . '$T_DIR/notify.log' | grep -A100 RELOADING=1 | grep -q READY=1"
ok $? "a reload is announced with RELOADING=1, then READY=1"
like "$(grep -v WATCHDOG "$T_DIR/notify.log" | tail -1)" "READY=1.*STATUS=running$" "and the status says running"

# A configuration csodd refuses: the unit's ExecReload= fails, csodd keeps
# the running one and says so in the status and as an error-priority line.
cp "$CONF" "$T_DIR/good.conf"
echo 'this is = not ( valid' >>"$CONF"
fails=0
while read -r cmd; do
	cmd=${cmd//@SBINDIR@\/csodd/csodd}
	cmd=${cmd//@SYSCONFDIR@\/csod\/csod.conf/$CONF}
	cmd=${cmd//\$MAINPID/$DAEMON_PID}
	sh -c "$cmd" >/dev/null 2>&1 || { fails=1; break; }
done < <(sed -n 's/^ExecReload=//p' "$UNIT")
is "$fails" 1 "the unit's ExecReload= fails on a configuration csodd would refuse"
kill -HUP "$DAEMON_PID"
wait_for 10 grep -q "reload was refused" "$T_DIR/notify.log"
ok $? "a refused reload is in the status systemd shows"
wait_for 10 grep -q "^<3>.*reload refused" "$LOG"
ok $? "and logged with priority 3 (err) for the journal"
check "csodd is still running" daemon_alive
like "$(grep -m1 'csodd started\|started on' "$LOG")" "^<5>" "a notice carries priority 5"
check "no line carries its own time stamp under the journal" sh -c "! grep -q '^[0-9]\\{4\\}-' '$LOG'"
cp "$T_DIR/good.conf" "$CONF"

# Each audited event is one log line, carrying the request's id.
make_hash_drop once.sha256
drop_by_rename once.sha256
wait_state once.sha256 signed 30
id=$(dir_id "$(request_dir once.sha256)")
is "$(grep -c "in_progress -> signed" "$LOG")" 1 "a request's signing is logged once"
like "$(grep "in_progress -> signed" "$LOG")" "^<5>\\[$id\\] audit: " "as the audit's notice, with the request's id"

stop_daemon
ok $? "csodd stops cleanly"
like "$(grep -v WATCHDOG "$T_DIR/notify.log" | tail -1)" "STOPPING=1" "after saying STOPPING=1"
done_testing
