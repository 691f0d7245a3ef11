#!/bin/bash
# csodd under its own unit's sandbox, as far as this machine allows without
# a booted systemd: the system calls systemd/csodd.service.in allows
# (expanded with systemd-analyze, applied with libseccomp, killing on any
# other, as systemd does), its User= and its capabilities (setpriv), and
# real Unix developers, so that the daemon creates inboxes (chown), takes
# folder drops over (fchown/fchmod), signs, reloads and stops. Any change of
# the unit is tested here the same way.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users and drop to them"
UNIT=$CSOD_TOP/systemd/csodd.service.in
chmod 755 "$T_DIR"

cc -O1 -o "$T_DIR/seccomp_exec" "$CSOD_TOP/tests/fixtures/seccomp_exec.c" -lseccomp
ok $? "the seccomp helper builds"
"$CSOD_TOP/tests/integration/helpers/unit_syscalls.py" "$UNIT" >"$T_DIR/allowed"
ok $? "the unit's SystemCallFilter= expands"
check "the filter allows chown (csodd gives developers their inboxes)" grep -qx fchownat "$T_DIR/allowed"
check "and still denies what @privileged holds besides it" sh -c "! grep -qx -e setuid -e reboot -e init_module '$T_DIR/allowed'"

# The unit's user, made here; its capabilities, read from the unit.
SVC=csodt-svc$$
DEV=csodt-udev$$
DEV2=csodt-udev2$$
useradd -M -U -s /usr/sbin/nologin "$SVC" || exit 1
for u in $DEV $DEV2; do useradd -M -N -s /usr/sbin/nologin "$u" || exit 1; done
trap 'for u in $SVC $DEV $DEV2; do userdel "$u" 2>/dev/null; done; groupdel "$SVC" 2>/dev/null; cleanup' EXIT
caps=$(sed -n 's/^AmbientCapabilities=//p' "$UNIT" | tr ' ' '\n' | sed 's/^CAP_//' | tr 'A-Z' 'a-z' | sed 's/^/+/' | paste -sd, -)
like "$caps" '^\+chown' "the unit's ambient capabilities are read ($caps)"
umask_value=$(sed -n 's/^UMask=//p' "$UNIT")

write_config
mkdir -p "$SPOOL"
chown "$SVC:$SVC" "$SPOOL"
# As installed: root:root 0640; the unit reads it with CAP_DAC_READ_SEARCH.
chown root:root "$CONF" && chmod 640 "$CONF"
# Under the sanitizers the binaries need syscalls no unit allows (ASan's
# own bookkeeping); the plain build is what the unit runs.
CSODD=$CSOD_TOP/build/bin/csodd
[ -x "$CSODD" ] || CSODD=$CSOD_BIN/csodd

# Started as a simple command, so that $! is csodd itself (setpriv and the
# helper exec it) and signals reach it.
umask "$umask_value"
SANDBOX=(setpriv --reuid="$SVC" --regid="$SVC" --init-groups
	--inh-caps="$caps" --ambient-caps="$caps" --bounding-set=-all,"$caps"
	-- "$T_DIR/seccomp_exec" "$T_DIR/allowed" --)
sandboxed() { "${SANDBOX[@]}" "$@"; }

sandboxed "$CSODD" --config "$CONF" --check-config >"$T_DIR/check.out" 2>&1
ok $? "csodd --check-config passes in the sandbox"
strace -f -o /tmp/s62.trace -e trace=execve,openat,clone3,clone,close_range "${SANDBOX[@]}" "$CSODD" --config "$CONF" --foreground 2>>"$LOG" &
DAEMON_PID=$!
wait_for 30 test -f "$SPOOL/ca/ca.pem" -a -d "$SPOOL/inbox/$DEV"
ok $? "csodd starts under the unit's filter, user and capabilities"
check "csodd is still running" daemon_alive
is "$(stat -c %U "$SPOOL/inbox/$DEV")" "$DEV" "the developer owns their inbox (chown)"
is "$(stat -c %U "$SPOOL/state/csod.db")" "$SVC" "the database is the service user's"

make_hash_drop one.sha256
runuser -u "$DEV" -- mkdir "$SPOOL/inbox/$DEV/folder.tmp"
runuser -u "$DEV" -- cp "$T_DIR/one.sha256" "$T_DIR/one.sha256.data" "$SPOOL/inbox/$DEV/folder.tmp/"
runuser -u "$DEV" -- rm "$SPOOL/inbox/$DEV/folder.tmp/one.sha256.data"
runuser -u "$DEV" -- mv "$SPOOL/inbox/$DEV/folder.tmp" "$SPOOL/inbox/$DEV/folder"
wait_state folder signed 30
ok $? "a real developer's folder drop is taken over and signed"
check "the signature verifies" verify_p7s "$(request_dir folder)/one.sha256.p7s" "$T_DIR/one.sha256.data"
# csodctl through the control socket: csodd runs csodctl --serve for the
# developer under the same filter, user and capabilities (it reads the
# root-only config with CAP_DAC_READ_SEARCH).
out=$(runuser -u "$DEV" -- csodctl --socket "$SPOOL/run/csod.sock" request list 2>&1)
ok $? "the developer runs csodctl as themselves against the sandboxed csodd"
like "$out" "$(dir_id "$(request_dir folder)")" "and sees their request"

DEVELOPERS_EXTRA=", { user = \"$DEV2\"; email = \"two@dithercons.com\"; organization = \"$ORG\"; }"
write_config
# As installed: root:root 0640; the unit reads it with CAP_DAC_READ_SEARCH.
chown root:root "$CONF" && chmod 640 "$CONF"
kill -HUP "$DAEMON_PID"
wait_for 20 test -d "$SPOOL/inbox/$DEV2"
ok $? "a reload adds a developer"
is "$(stat -c %U "$SPOOL/inbox/$DEV2" 2>/dev/null)" "$DEV2" "whose inbox is theirs"
make_hash_drop two.sha256
runuser -u "$DEV2" -- cp "$T_DIR/two.sha256" "$SPOOL/inbox/$DEV2/.two.tmp"
runuser -u "$DEV2" -- mv "$SPOOL/inbox/$DEV2/.two.tmp" "$SPOOL/inbox/$DEV2/two.sha256"
wait_state two.sha256 signed 30 "$DEV2"
ok $? "and their drop is signed"

kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
is "$rc" 0 "csodd stops cleanly (not killed by the filter: 159 would be SIGSYS)"
check "no system call was refused on the way" sh -c "! grep -qi 'bad system call' '$LOG'"
done_testing
