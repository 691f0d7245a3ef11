#!/bin/bash
# Keys in core files: csodd and csod-sign hold private keys in memory, and a
# core dump (a crash, or kill -SEGV by the user it runs as) outside systemd's
# LimitCORE=0 would write them to disk. Both make themselves non-dumpable
# (PR_SET_DUMPABLE 0) at start: no core, and their /proc/<pid> files belong
# to root, so the user they run as cannot read their memory either.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to run the tools as another user"
command -v setpriv >/dev/null || skip_all "setpriv (util-linux) not installed"
chmod 755 "$T_DIR"

RUNNER=csc-run$$
useradd -M -N -s /usr/sbin/nologin "$RUNNER" || exit 1
trap 'userdel "$RUNNER" 2>/dev/null; cleanup' EXIT
# The unprivileged user's working directory (where a core would land) and
# a spool of its own.
RUN=$T_DIR/run
mkdir -p "$RUN"
chown "$RUNNER" "$RUN"
SPOOL=$RUN/spool
write_config
chmod 644 "$CONF"

as_runner() { # execs CMD as $RUNNER in $RUN with cores allowed (so $! is CMD)
	cd "$RUN" || exit 1
	ulimit -c unlimited
	exec setpriv --reuid="$RUNNER" --regid="$(id -g "$RUNNER")" --init-groups "$@"
}
# Under ASan a SIGSEGV is reported and turned into an exit, and cores are
# off by default: ask for the plain signal and the core, as without it.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0:disable_coredump=0

# Only a core_pattern that is a plain file name puts the core in the cwd,
# where the test can look; a pipe (systemd-coredump, apport) or a path
# elsewhere cannot be checked here.
pattern=$(cat /proc/sys/kernel/core_pattern)
core_prefix=
case "$pattern" in
"|"* | */*) diag "core_pattern is '$pattern': the core-file checks are skipped" ;;
*) core_prefix=${pattern%%%*} ;;
esac
[ "${CSOD_VALGRIND:-0}" = 1 ] && core_prefix= && diag "under valgrind (which writes its own vgcore): the core-file checks are skipped"

no_core() { # no_core WHAT: no core file in $RUN after WHAT was killed
	[ -n "$core_prefix" ] || return 0
	local found
	found=$(find "$RUN" -maxdepth 1 -name "$core_prefix*" -type f)
	[ -z "$found" ]
	ok $? "no core file from $1 after kill -SEGV"
	[ -z "$found" ] || { ls -l $found | sed 's/^/#   /'; rm -f $found; }
}

# --- csodd ------------------------------------------------------------------
(as_runner csodd --config "$CONF" --foreground 2>>"$LOG" >/dev/null) &
pid=$!
wait_for 60 test -d "$SPOOL/inbox/$DEV" -a -f "$SPOOL/ca/ca.pem"
ok $? "csodd runs as an unprivileged user on its own spool"
is "$(stat -c %U "/proc/$pid/status" 2>/dev/null)" root "csodd is not dumpable: its /proc files are root's"
is "$(stat -c %U "/proc/$pid/mem" 2>/dev/null)" root "so its memory is not the user's to read"
is "$(ps -o uid= -p "$pid" | tr -d ' ')" "$(id -u "$RUNNER")" "(while it runs as that user)"
kill -SEGV "$pid"
wait "$pid" 2>/dev/null
is "$?" 139 "csodd died of the SIGSEGV"
no_core csodd

# --- csod-sign --------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=csod-core-test -days 1 \
	-keyout "$RUN/key.pem" -out "$RUN/cert.pem" 2>/dev/null
chown "$RUNNER" "$RUN/key.pem" "$RUN/cert.pem"
chmod 600 "$RUN/key.pem"
# It loads the key, then blocks opening its input, a FIFO nobody writes.
mkfifo "$RUN/in.sha256"
chown "$RUNNER" "$RUN/in.sha256"
(as_runner csod-sign --cert "$RUN/cert.pem" --key "$RUN/key.pem" "$RUN/in.sha256" "$RUN/out.p7s" 2>/dev/null) &
pid=$!
wait_for 30 grep -q wait_for_partner "/proc/$pid/wchan"
ok $? "csod-sign has loaded the key and waits for its input"
is "$(stat -c %U "/proc/$pid/status" 2>/dev/null)" root "csod-sign is not dumpable: its /proc files are root's"
is "$(ps -o uid= -p "$pid" | tr -d ' ')" "$(id -u "$RUNNER")" "(while it runs as that user)"
kill -SEGV "$pid"
wait "$pid" 2>/dev/null
is "$?" 139 "csod-sign died of the SIGSEGV"
no_core csod-sign
done_testing
