#!/bin/bash
# An auto-approved request survives kill -9 at the worst moment (docs/
# DESIGN.md "Intake"): csodd is stopped (strace holds the removal of the
# drop's store/incoming folder) after the request is recorded and its
# incoming folder removed, but before anything else happens to it; it must
# already be approved then (the intake records the request and its
# auto-approval in one transaction), and after a restart be signed with
# nobody approving it by hand, its approval audited once. Once for one
# csodd, once for a node of a cluster restarting on its own.
. "$(dirname "$0")/lib.sh"

command -v strace >/dev/null || skip_all "strace not installed"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
[ "${CSOD_TEST_DB:-sqlite}" = sqlite ] || skip_all "reads the SQLite file"
DB=$SPOOL/state/csod.db
q() { sqlite3 "$DB" "$1"; }

# crash_at_approval NAME: drops NAME; kills csodd -9 just after its intake
# removed the incoming folder (each unlinkat held 3 s after it returns).
crash_at_approval() {
	strace -f -qq -o /dev/null -e trace=unlinkat -e inject=unlinkat:delay_exit=3000000 \
		-p "$DAEMON_PID" 2>/dev/null &
	local tracer=$!
	sleep 1
	make_hash_drop "$1"
	drop_by_rename "$1"
	wait_for 60 sh -c "[ -n \"\$(sqlite3 '$DB' \"SELECT id FROM requests WHERE drop_name = '$1'\")\" ] &&
		! ls '$SPOOL/store/incoming' | grep -q ."
	local found=$?
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	wait "$tracer" 2>/dev/null
	return $found
}

for mode in one node; do
	if [ $mode = node ]; then
		stop_daemon
		EXTRA='node = "n1";'
		write_config
	else
		write_config
	fi
	start_daemon || exit 1
	# The developer's key and certificate first.
	make_hash_drop "warm-$mode.sha256"
	drop_by_rename "warm-$mode.sha256"
	wait_state "warm-$mode.sha256" signed 60
	ok $? "$mode: a first drop is signed"

	crash_at_approval "crash-$mode.sha256"
	ok $? "$mode: killed after the request was recorded and its incoming folder removed"
	id=$(q "SELECT id FROM requests WHERE drop_name = 'crash-$mode.sha256'")
	state=$(q "SELECT state FROM requests WHERE id = '$id'")
	[ -n "$state" ] && [ "$state" != created ]
	ok $? "$mode: the kill left it auto-approved, not waiting ($state)"

	start_daemon || exit 1
	wait_state "crash-$mode.sha256" signed 60
	ok $? "$mode: after a restart it is signed, nobody having approved it by hand"
	out=$(request_dir "crash-$mode.sha256")
	verify_p7s "$out/crash-$mode.sha256.p7s" "$T_DIR/crash-$mode.sha256.data" 2>/dev/null
	ok $? "$mode: its signature verifies"
	is "$(q "SELECT count(*) FROM audit WHERE object = '$id' AND action = 'request.state'
		AND detail = 'created -> approved' AND actor = 'auto-approve'")" 1 \
		"$mode: its auto-approval is audited once"
	is "$(q "SELECT approver FROM requests WHERE id = '$id'")" auto-approve \
		"$mode: recorded as approved by auto-approve"
done
stop_daemon
done_testing
