# Shared helpers for the integration suite: TAP output, a temporary spool,
# starting and stopping the real daemon. Source it from a *.t script:
#   . "$(dirname "$0")/lib.sh"
# Environment: CSOD_BIN (the binaries, set by make), CSOD_TOP (the source
# tree). CSOD_VALGRIND=1 runs the daemon and tools under valgrind.

set -u
: "${CSOD_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${CSOD_BIN:=$CSOD_TOP/build/bin}"
export PATH="$CSOD_BIN:$PATH"

T_COUNT=0
T_FAILED=0
T_DIR=$(mktemp -d /tmp/csod-test.XXXXXX)
T_KEEP=${CSOD_KEEP:-0}

ok() { # ok CONDITION-EXIT-STATUS DESCRIPTION (use: cmd; ok $? "text")
	T_COUNT=$((T_COUNT + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_COUNT - $2"
	else
		echo "not ok $T_COUNT - $2"
		T_FAILED=$((T_FAILED + 1))
	fi
}

pass() { ok 0 "$1"; }
fail() { ok 1 "$1"; }

check() { # check DESCRIPTION CMD...: runs CMD, ok if it exits 0
	local desc=$1
	shift
	if "$@" >"$T_DIR/check.out" 2>&1; then
		ok 0 "$desc"
	else
		ok 1 "$desc"
		sed 's/^/#   /' "$T_DIR/check.out" | head -30
	fi
}

is() { # is GOT EXPECTED DESCRIPTION
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   got:      '$1'"
		echo "#   expected: '$2'"
	fi
}

like() { # like GOT REGEX DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   got:     '$(printf '%s' "$1" | head -c 400)'"
		echo "#   pattern: '$2'"
	fi
}

diag() { echo "# $*"; }

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

done_testing() {
	echo "1..$T_COUNT"
	[ "$T_FAILED" -eq 0 ]
	local rc=$?
	[ "$rc" -ne 0 ] && [ -f "${LOG:-/nonexistent}" ] && { echo "# daemon log:"; tail -40 "$LOG" | sed 's/^/#   /'; }
	return $rc
}

# wait_for TIMEOUT_SECONDS CMD...: polls CMD every 50 ms until it succeeds.
wait_for() {
	local limit=$1
	shift
	local end=$(($(date +%s%N) / 1000000 + limit * 1000))
	while [ $(($(date +%s%N) / 1000000)) -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

run_tool() { # runs a csod binary, under valgrind when asked
	if [ "${CSOD_VALGRIND:-0}" = 1 ]; then
		valgrind -q --leak-check=full --error-exitcode=99 --errors-for-leak-kinds=definite "$@"
	else
		"$@"
	fi
}

cleanup() {
	[ -n "${DAEMON_PID:-}" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
	[ "$T_KEEP" = 1 ] || rm -rf "$T_DIR"
}
trap cleanup EXIT
