# Shared helpers for the integration suite: TAP output, a temporary spool,
# starting and stopping the real daemon. Source it from a *.t script:
#   . "$(dirname "$0")/lib.sh"
# Environment: CSOD_BIN (the binaries, set by make), CSOD_TOP (the source
# tree). CSOD_VALGRIND=1 runs csodd, csodctl and csod-sign under valgrind
# (see "valgrind" below). CSOD_TEST_DB=postgresql puts the daemon's state
# database on a private PostgreSQL server (see "postgresql" below).

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
	[ "${CSOD_VALGRIND:-0}" = 1 ] && valgrind_verdict
	echo "1..$T_COUNT"
	[ "$T_FAILED" -eq 0 ]
	local rc=$?
	[ "$rc" -ne 0 ] && [ -f "${LOG:-/nonexistent}" ] && { echo "# daemon log:"; tail -40 "$LOG" | sed 's/^/#   /'; }
	return $rc
}

# make_pki DIR: the throw-away test PKI of tests/fixtures/mkpki.sh in DIR. A
# broken fixture is a failure, not a reason to skip: the test ends there.
make_pki() {
	sh "$CSOD_TOP/tests/fixtures/mkpki.sh" "$1" && return 0
	fail "tests/fixtures/mkpki.sh makes the test PKI"
	done_testing
	exit 1
}

# wait_for TIMEOUT_SECONDS CMD...: polls CMD every 50 ms until it succeeds.
wait_for() {
	local limit=$1
	shift
	local end=$(($(date +%s%N) / 1000000 + limit * 1000 * T_SLOWDOWN))
	while [ $(($(date +%s%N) / 1000000)) -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# --- valgrind ----------------------------------------------------------------
# With CSOD_VALGRIND=1, wrappers named csodd, csodctl and csod-sign come first
# on PATH, so every run of a csod binary in a test (also as another user, and
# the daemon started by start_daemon) is under valgrind, each process logging
# to its own file. A leak or a bad read in a tool that is expected to fail
# would only change one non-zero status into another, so done_testing reads
# the logs and fails the test file if any has an error (valgrind_verdict).
# Waits are stretched (T_SLOWDOWN) because everything runs ~20x slower.
# CSOD_RUN_BIN is the directory to name for a script that runs the binaries
# by path (scripts/demo.sh).
T_SLOWDOWN=1
VG_LOGS=$T_DIR/valgrind
CSOD_RUN_BIN=$CSOD_BIN
if [ "${CSOD_VALGRIND:-0}" = 1 ]; then
	T_SLOWDOWN=${CSOD_VALGRIND_SLOWDOWN:-4}
	CSOD_RUN_BIN=$T_DIR/vgbin
	mkdir -p "$T_DIR/vgbin" "$VG_LOGS"
	chmod 1777 "$VG_LOGS" # tools run by runuser as other users log here too
	for b in csodd csodctl csod-sign; do
		cat >"$T_DIR/vgbin/$b" <<WRAP
#!/bin/sh
exec valgrind -q --leak-check=full --show-leak-kinds=definite \\
	--errors-for-leak-kinds=definite --error-exitcode=99 \\
	--child-silent-after-fork=yes --num-callers=30 \\
	--suppressions="$CSOD_TOP/tests/valgrind.supp" \\
	--log-file="$VG_LOGS/$b.%p.log" "$CSOD_BIN/$b" "\$@"
WRAP
		chmod 755 "$T_DIR/vgbin/$b"
	done
	export PATH="$T_DIR/vgbin:$PATH"
fi

# valgrind_verdict: stops the daemon (so that it writes its leak report),
# then one test: no valgrind error in any process this file ran. Valgrind's
# errors are the lines "==PID== ..."; its "--PID-- WARNING" lines (e.g. an
# unhandled mlock2 from OpenSSL's secure heap, which then falls back to
# mlock) are not errors.
valgrind_verdict() {
	stop_daemon
	local f bad=0 n=0
	for f in "$VG_LOGS"/*.log; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		grep -q '^==[0-9]*== ' "$f" || continue
		bad=$((bad + 1))
		echo "# valgrind: $(basename "$f"):"
		grep '^==[0-9]*== ' "$f" | head -60 | sed 's/^/#   /'
	done
	ok $((bad != 0)) "valgrind: no errors or definite leaks in the $n csod process(es) run ($bad with errors)"
}

# run_tool CMD...: kept for the tests that name it; the valgrind wrappers on
# PATH now apply to every run.
run_tool() { "$@"; }

cleanup() {
	[ -n "${DAEMON_PID:-}" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
	stop_postgresql
	[ "$T_KEEP" = 1 ] || rm -rf "$T_DIR"
}
trap cleanup EXIT

# --- the daemon on a temporary spool ---------------------------------------
SPOOL=$T_DIR/spool
CONF=$T_DIR/csod.conf
LOG=$T_DIR/csodd.log
DEV=dagwood
ORG="Dithers Construction Company"

# write_config: a config for $SPOOL; set AUTO_APPROVE, RETENTION, SETTLE_MS,
# MAX_FILE_SIZE, ADMINS, DEVELOPERS_EXTRA, EXTRA to vary it.
write_config() {
	local admins=${ADMINS:-'{ user = "root"; email = "root@dithercons.com"; role = "MRAO"; }'}
	cat >"$CONF" <<CONF
spool = "$SPOOL";
settle_ms = ${SETTLE_MS:-300};
poll_interval = ${POLL_INTERVAL:-1};
retention = "${RETENTION:-3d}";
auto_approve = ${AUTO_APPROVE:-true};
max_file_size = "${MAX_FILE_SIZE:-64M}";
mail = { transport = "spool"; from = "csod@dithercons.com"; };
ca = { backend = "local"; auto_enroll = true; key_bits = 2048; };
keys = { backend = "database"; };
organizations = (
  { name = "$ORG"; domains = [ "dithercons.com" ];
    departments = [ "Software Development", "QA" ]; }
);
developers = (
  { user = "$DEV"; email = "dagwood@dithercons.com"; name = "Dagwood Bumstead";
    organization = "$ORG"; department = "Software Development"; }
  ${DEVELOPERS_EXTRA:-}
);
admins = (
  $admins
);
${EXTRA:-}
$(test_db_config)
CONF
}

start_daemon() {
	# Started directly (not through a shell function) so that $! is csodd
	# (under CSOD_VALGRIND, the wrapper execs valgrind: the same process).
	csodd --config "$CONF" --foreground >/dev/null 2>>"$LOG" &
	DAEMON_PID=$!
	wait_for 60 test -d "$SPOOL/inbox/$DEV" -a -f "$SPOOL/ca/ca.pem" || {
		echo "# csodd did not come up"
		sed 's/^/#   /' "$LOG" | tail -20
		return 1
	}
}

stop_daemon() {
	[ -n "${DAEMON_PID:-}" ] || return 0
	kill "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	local rc=$?
	DAEMON_PID=
	return $rc
}

daemon_alive() { [ -n "${DAEMON_PID:-}" ] && kill -0 "$DAEMON_PID" 2>/dev/null; }

# add_users NAME...: real Unix users csr-NAME<pid> (no home, no login),
# deleted when the test ends, and a $T_DIR they can reach. Needs root.
add_users() {
	local u
	T_USERS="${T_USERS:-} $*"
	for u in "$@"; do useradd -M -N -s /usr/sbin/nologin "csr-$u$$" || exit 1; done
	trap 'for u in $T_USERS; do userdel "csr-$u$$" 2>/dev/null; done; cleanup' EXIT
	chmod 755 "$T_DIR"
}

# The outbox folder of the request made from drop NAME (of developer $DEV).
request_dir() {
	local f
	for f in "$SPOOL/outbox/${2:-$DEV}"/*/request.json; do
		[ -f "$f" ] || continue
		if grep -q "\"drop\": \"$1\"" "$f"; then
			dirname "$f"
			return 0
		fi
	done
	return 1
}

# wait_state NAME STATE [TIMEOUT]: waits until drop NAME's request is in STATE.
wait_state() {
	wait_for "${3:-30}" sh -c "d=\$(for f in '$SPOOL/outbox/${4:-$DEV}'/*/request.json; do grep -l '\"drop\": \"$1\"' \"\$f\"; done 2>/dev/null | head -1); [ -n \"\$d\" ] && grep -qx '$2' \"\$(dirname \"\$d\")/STATUS\""
}

# outbox_of_id USER ID: the outbox folder of request ID ("<id> <drop>...").
outbox_of_id() {
	local d
	for d in "$SPOOL/outbox/$1/$2" "$SPOOL/outbox/$1/$2 "*; do
		[ -d "$d" ] && { echo "$d"; return 0; }
	done
	echo "$SPOOL/outbox/$1/$2"
	return 1
}

# dir_id DIR: the request id of an outbox folder ("<id> <drop>[ <version>]").
dir_id() {
	local b
	b=$(basename "$1")
	echo "${b%% *}"
}

state_of() { cat "$(request_dir "$1")/STATUS" 2>/dev/null; }

json_field() { # json_field FILE KEY
	/usr/bin/python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}

# make_hash_drop NAME: a sample file $T_DIR/NAME.data and its sha256sum line
# written to $T_DIR/NAME (not yet in the inbox).
make_hash_drop() {
	head -c 4096 /dev/urandom >"$T_DIR/$1.data"
	sha256sum "$T_DIR/$1.data" >"$T_DIR/$1"
}

# drop_by_rename NAME: moves $T_DIR/NAME into the inbox atomically.
drop_by_rename() {
	cp "$T_DIR/$1" "$SPOOL/inbox/${2:-$DEV}/.$1.tmp"
	mv "$SPOOL/inbox/${2:-$DEV}/.$1.tmp" "$SPOOL/inbox/${2:-$DEV}/$1"
}

verify_p7s() { # verify_p7s P7S ORIGINAL
	openssl cms -verify -binary -inform DER -in "$1" -content "$2" \
		-CAfile "$SPOOL/ca/ca.pem" -purpose any -out /dev/null
}

# softhsm_token LABEL PIN SO_PIN: a fresh SoftHSM2 token of the test's own
# (SOFTHSM2_CONF points into $T_DIR); sets MODULE. Skips the test file when
# SoftHSM2 or OpenSC is not installed.
softhsm_token() {
	MODULE=$(dpkg -L libsofthsm2 2>/dev/null | grep 'libsofthsm2.so$' | head -1)
	[ -n "$MODULE" ] && command -v pkcs11-tool >/dev/null || skip_all "softhsm2 or opensc not installed"
	export SOFTHSM2_CONF=$T_DIR/softhsm2.conf
	mkdir -p "$T_DIR/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$T_DIR/tokens" >"$SOFTHSM2_CONF"
	softhsm2-util --init-token --free --label "$1" --pin "$2" --so-pin "$3" >/dev/null
}

# start_loopback_tsa: the test time-stamping authority (tests/fixtures/
# mktsa.sh, served by tsa.py) in $TSA, its URL in $TSA_URL, its root in
# $TSA/tsaroot.pem; stopped by stop_loopback_tsa, or when the test ends.
start_loopback_tsa() {
	TSA=$T_DIR/tsa
	sh "$CSOD_TOP/tests/fixtures/mktsa.sh" "$TSA" >/dev/null 2>&1 || return 1
	/usr/bin/python3 "$CSOD_TOP/tests/fixtures/tsa.py" "$TSA" "$TSA/port" ok >/dev/null 2>&1 &
	TSA_PID=$!
	trap 'stop_loopback_tsa; cleanup' EXIT
	wait_for 10 test -s "$TSA/port" || return 1
	TSA_URL="http://127.0.0.1:$(cat "$TSA/port")/tsa"
}
stop_loopback_tsa() {
	[ -n "${TSA_PID:-}" ] && kill "$TSA_PID" 2>/dev/null && wait "$TSA_PID" 2>/dev/null
	TSA_PID=
}

# --- postgresql --------------------------------------------------------------
# start_postgresql: a private PostgreSQL server for this test, listening on a
# Unix socket in its own directory only (no TCP port, so parallel tests do
# not meet), run by the Unix user csod-pg because PostgreSQL refuses to run
# as root; trust authentication, so that csodctl run as any test user gets
# in. Sets PG_CONNINFO; stopped and removed when the test ends.
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PG_DIR=
PG_CONNINFO=
start_postgresql() {
	[ -n "$PG_CONNINFO" ] && return 0
	[ -x "$PG_BIN/initdb" ] || { diag "no PostgreSQL server installed"; return 1; }
	id csod-pg >/dev/null 2>&1 ||
		useradd -M -N -s /usr/sbin/nologin csod-pg 2>/dev/null || id csod-pg >/dev/null 2>&1 ||
		return 1
	PG_DIR=$(mktemp -d /tmp/csod-pg.XXXXXX) || return 1
	chmod 755 "$PG_DIR" && chown csod-pg "$PG_DIR" || return 1
	runuser -u csod-pg -- "$PG_BIN/initdb" -D "$PG_DIR/data" -U csod --auth=trust -E UTF8 \
		--no-sync >"$PG_DIR/initdb.log" 2>&1 || { sed 's/^/#   /' "$PG_DIR/initdb.log"; return 1; }
	# fsync off: a test's database need not survive a power cut.
	runuser -u csod-pg -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
		-o "-k $PG_DIR -c listen_addresses='' -c fsync=off" start >/dev/null ||
		{ sed 's/^/#   /' "$PG_DIR/server.log"; return 1; }
	PG_CONNINFO="host=$PG_DIR dbname=postgres user=csod"
	echo "$PG_CONNINFO" >"$T_DIR/pg.conninfo"
}

stop_postgresql() {
	[ -n "${PG_DIR:-}" ] || return 0
	runuser -u csod-pg -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1
	rm -rf "$PG_DIR"
	PG_DIR=
	PG_CONNINFO=
}

# test_db_config: the database { } line of a test's csod.conf: none (the
# SQLite default) unless CSOD_TEST_DB=postgresql, which starts the server.
test_db_config() {
	[ "${CSOD_TEST_DB:-sqlite}" = postgresql ] || return 0
	start_postgresql >&2 || { echo "# cannot start PostgreSQL" >&2; return 1; }
	echo "database = { backend = \"postgresql\"; conninfo = \"$PG_CONNINFO\"; };"
}
# Started here, not in the $(...) of test_db_config (a subshell), so that
# PG_DIR reaches cleanup.
if [ "${CSOD_TEST_DB:-sqlite}" = postgresql ]; then
	[ -x "$PG_BIN/initdb" ] || skip_all "no PostgreSQL server installed (Debian postgresql)"
	[ "$(id -u)" = 0 ] || skip_all "PostgreSQL tests need root (the server runs as its own user)"
	start_postgresql || { echo "not ok 1 - cannot start PostgreSQL"; exit 1; }
fi

# db_sql SQL: runs SQL on the test daemon's state database (SQLite's file
# under $SPOOL/state, or the PostgreSQL server) and prints the rows as
# sqlite3 does (columns joined by |). A command on PATH, so that the
# `sh -c` of wait_for and check can use it; CSOD_TEST_SQLITE names another
# file.
mkdir -p "$T_DIR/tbin"
cat >"$T_DIR/tbin/db_sql" <<DBSQL
#!/bin/sh
if [ -s "$T_DIR/pg.conninfo" ]; then
	exec "$PG_BIN/psql" -AtXq -v ON_ERROR_STOP=1 -d "\$(cat "$T_DIR/pg.conninfo")" -c "\$1"
fi
exec sqlite3 "\${CSOD_TEST_SQLITE:-$SPOOL/state/csod.db}" "\$1"
DBSQL
chmod 755 "$T_DIR/tbin/db_sql"
export PATH="$T_DIR/tbin:$PATH"
