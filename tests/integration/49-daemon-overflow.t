#!/bin/bash
# inotify's queue overflows (IN_Q_OVERFLOW): the watcher rescans every inbox
# and no drop is lost. The periodic scan is off, so only that rescan can
# find the drops whose events were dropped.
. "$(dirname "$0")/lib.sh"
Q=/proc/sys/fs/inotify/max_queued_events
[ "$(id -u)" = 0 ] && [ -w "$Q" ] || skip_all "needs root to shrink inotify's queue"
old=$(cat "$Q")
# The limit applies to inotify instances made after the change: csodd's.
echo 16 >"$Q"
trap 'echo "$old" >"$Q"; cleanup' EXIT
POLL_INTERVAL=0
write_config
start_daemon || exit 1
echo "$old" >"$Q"

# Stop csodd so the events pile up, then make more drops than the queue holds.
kill -STOP "$DAEMON_PID"
for i in $(seq 1 40); do
	make_hash_drop "o$i.sha256"
	drop_by_rename "o$i.sha256"
done
kill -CONT "$DAEMON_PID"
all_signed() {
	for i in $(seq 1 40); do
		[ "$(state_of "o$i.sha256")" = signed ] || return 1
	done
}
wait_for 30 all_signed
ok $? "after an overflow of inotify's queue every drop is taken and signed"
n=$(ls -d "$SPOOL/outbox/$DEV"/*/ | wc -l) # request folders (beside the status page)
is "$n" 40 "each exactly once"
check "nothing is left in the inbox" test -z "$(ls -A "$SPOOL/inbox/$DEV")"
stop_daemon
ok $? "csodd stops cleanly"
done_testing
