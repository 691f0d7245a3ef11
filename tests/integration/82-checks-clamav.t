#!/bin/bash
# Pre-sign checks, ClamAV (issue 15): a real clamd of the test's own, with a
# signature database made here (an .ndb signature for the EICAR test
# string), scans the store copy through its socket. A drop it flags is
# declined under auto-approve and flagged under manual approval (the
# approver sees the verdict and may still approve or decline); a clean drop
# is signed; with clamd gone the request is held, never signed.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
command -v clamd >/dev/null || skip_all "clamav-daemon not installed"
command -v x86_64-w64-mingw32-gcc >/dev/null || skip_all "mingw-w64 not installed"
chmod 755 "$T_DIR"

DEV=csodt-cdev$$
APPR=csodt-cappr$$
for u in $DEV $APPR; do useradd -M -N -s /usr/sbin/nologin "$u" || exit 1; done
CL=$T_DIR/clamd
trap 'stop_clamd; for u in $DEV $APPR; do userdel "$u" 2>/dev/null; done; cleanup' EXIT

# clamd on a private config: its socket and database in the test folder,
# in the foreground (not the system's service, not freshclam's database).
mkdir -p "$CL/db"
PORT=$((20000 + $$ % 20000))
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
hex=$(printf '%s' 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE' | od -An -tx1 | tr -d ' \n')
echo "Csod-Test-Eicar:0:*:$hex" >"$CL/db/csod-test.ndb"
cat >"$CL/clamd.conf" <<EOF
LocalSocket $CL/clamd.sock
Foreground yes
DatabaseDirectory $CL/db
TemporaryDirectory $CL
LogFile $CL/clamd.log
StreamMaxLength 1M
TCPSocket $PORT
TCPAddr 127.0.0.1
EOF
CLAMD_PID=
start_clamd() {
	clamd -c "$CL/clamd.conf" >>"$CL/out.log" 2>&1 &
	CLAMD_PID=$!
	wait_for 60 test -S "$CL/clamd.sock"
}
stop_clamd() {
	[ -n "$CLAMD_PID" ] || return 0
	kill "$CLAMD_PID" 2>/dev/null
	wait "$CLAMD_PID" 2>/dev/null
	CLAMD_PID=
	rm -f "$CL/clamd.sock"
}
start_clamd
ok $? "clamd starts on the test's own config and signature database"

# Windows programs made here: a clean one, and one carrying the test string.
cat >"$T_DIR/clean.c" <<'EOF'
#include <stdio.h>
int main(void) { puts("hello"); return 0; }
EOF
printf '#include <stdio.h>\nstatic const char s[] = "%s";\nint main(void) { puts(s); return 0; }\n' \
	"$(printf '%s' "$EICAR" | sed 's/\\/\\\\/g')" >"$T_DIR/eicar.c"
x86_64-w64-mingw32-gcc -O1 -o "$T_DIR/clean.exe" "$T_DIR/clean.c" &&
	x86_64-w64-mingw32-gcc -O1 -o "$T_DIR/eicar.exe" "$T_DIR/eicar.c"
ok $? "test programs built"
check "the flagged program really holds the test string" grep -q EICAR-STANDARD "$T_DIR/eicar.exe"

ADMINS="{ user = \"$APPR\"; email = \"appr@dithercons.com\"; role = \"MRAO\"; }"
CHECKS="checks = { clamav = { socket = \"$CL/clamd.sock\"; timeout = \"20s\"; }; };"
EXTRA=$CHECKS
AUTO_APPROVE=false
write_config
check "csodctl check-config reaches clamd" csodctl --config "$CONF" check-config
like "$(cat "$T_DIR/check.out")" "checks.clamav: clamd on .*clamd.sock answers: ClamAV" "and says which"
start_daemon || exit 1

# A drop of the developer's, as the developer: copied to a dot name, renamed.
drop() { # drop SRC NAME
	runuser -u "$DEV" -- sh -c "cp '$1' '$SPOOL/inbox/$DEV/.$2.tmp' && mv '$SPOOL/inbox/$DEV/.$2.tmp' '$SPOOL/inbox/$DEV/$2'"
}
# the JSON field path (a.b.c) of a file, or "" for null
field() { /usr/bin/python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else (v or {}).get(k)
print("" if v is None else v)' "$1" "$2"; }
# waits until the checks of drop NAME have a verdict in request.json
wait_checked() {
	wait_for 60 sh -c "d=\$(grep -l '\"drop\": \"$1\"' '$SPOOL/outbox/$DEV'/*/request.json 2>/dev/null | head -1);
		[ -n \"\$d\" ] && grep -A1 '\"checks\"' \"\$d\" | grep -Eq '\"state\": \"(pass|fail|hold)\"'"
}
as_appr() { runuser -u "$APPR" -- csodctl --config "$CONF" "$@"; }

# --- manual approval: a flagged drop waits, with the verdict shown -------
drop "$T_DIR/eicar.exe" flagged.exe
wait_checked flagged.exe
ok $? "the checks of a drop ran"
dir=$(request_dir flagged.exe)
id=$(dir_id "$dir")
is "$(state_of flagged.exe)" created "a flagged drop still waits for an approver (manual approval)"
is "$(field "$dir/request.json" checks.state)" fail "request.json says the checks failed"
is "$(field "$dir/request.json" checks.results.0.check)" clamav "... which scanner"
like "$(field "$dir/request.json" checks.results.0.reason)" '^Csod-Test-Eicar(\.UNOFFICIAL)? FOUND in flagged\.exe$' "... and which signature in which file"
details=$SPOOL/requests/$id/details.json
check "the approver reads details.json" runuser -u "$APPR" -- test -r "$details"
is "$(field "$details" checks.results.0.verdict)" fail "details.json shows the verdict to approvers"
show=$(as_appr request show "$id")
like "$show" 'Checks: +fail' "request show: the checks failed"
like "$show" 'clamav +fail +Csod-Test-Eicar(\.UNOFFICIAL)? FOUND in flagged\.exe' "request show: scanner, signature and file"
page=$SPOOL/requests/index.html
wait_for 10 sh -c "runuser -u $APPR -- grep -q 'class=\"checks-fail\"' '$page'"
ok $? "the approvers' page marks the request whose check failed"
like "$(runuser -u "$APPR" -- cat "$page")" 'fail \(clamav: fail: Csod-Test-Eicar(\.UNOFFICIAL)? FOUND in flagged\.exe\)' "... with the scanner's finding"
mail=$(grep -l "request $id" "$SPOOL"/mail/*.eml 2>/dev/null | xargs grep -l "appr@dithercons.com" 2>/dev/null | head -1)
check "the approver was mailed once the verdict was in" test -n "$mail"
like "$(tr -d '\r' <"${mail:-/dev/null}")" 'Pre-sign checks: fail \(clamav: fail: Csod-Test-Eicar(\.UNOFFICIAL)? FOUND in flagged\.exe\)' "the mail carries the verdict"
like "$(csodctl --config "$CONF" audit list)" "check.verdict .*clamav: fail: Csod-Test-Eicar" "the verdict is audited"

out=$(as_appr request approve "$id" -m "a known test file" 2>&1)
ok $? "the approver may approve a flagged request: $out"
wait_state flagged.exe signed 60
ok $? "and it is signed"
like "$(csodctl --config "$CONF" audit list)" "request.approve .*a known test file \[pre-sign checks: fail \(clamav: fail: Csod-Test-Eicar" "the approval's audit record carries the verdict"

drop "$T_DIR/eicar.exe" flagged2.exe
wait_checked flagged2.exe
id2=$(dir_id "$(request_dir flagged2.exe)")
as_appr request decline "$id2" -m "not ours" >/dev/null 2>&1
wait_state flagged2.exe declined 30
ok $? "or decline it"

drop "$T_DIR/clean.exe" clean.exe
wait_checked clean.exe
dir=$(request_dir clean.exe)
is "$(field "$dir/request.json" checks.state)" pass "a clean drop passes"
like "$(field "$dir/request.json" checks.results.0.reason)" "no signature found in 1 file" "with a reason"
as_appr request approve "$(dir_id "$dir")" >/dev/null 2>&1
wait_state clean.exe signed 60
ok $? "and is signed once approved"

# --- auto-approve: a flagged drop is declined, a clean one signed ---------
stop_daemon
AUTO_APPROVE=true
write_config
start_daemon || exit 1
# (the spool exists already: wait for csodd's socket, not for the spool)
wait_for 30 sh -c "runuser -u $APPR -- csodctl --config '$CONF' request show $id | grep -Eq 'clamav +fail'"
ok $? "verdicts survive a restart"

drop "$T_DIR/eicar.exe" bad.exe
wait_state bad.exe declined 60
ok $? "under auto-approve a flagged drop is declined"
dir=$(request_dir bad.exe)
like "$(cat "$dir/ERROR" 2>/dev/null)" '^declined by the pre-sign checks: fail \(clamav: fail: Csod-Test-Eicar(\.UNOFFICIAL)? FOUND in bad\.exe\)' "ERROR says which scanner and signature"
like "$(field "$dir/request.json" error)" "clamav: fail: Csod-Test-Eicar" "request.json too"
check "nothing was signed" sh -c "! ls '$dir' | grep -q 'bad.exe$'"
mail=$(grep -l "request $(dir_id "$dir")" "$SPOOL"/mail/*.eml | xargs grep -l "dagwood@dithercons.com" | xargs grep -l declined | head -1)
like "$(tr -d '\r' <"${mail:-/dev/null}")" "Csod-Test-Eicar" "the developer's mail names the signature"
like "$(cat "$LOG")" "pre-sign checks: fail \(clamav: fail: Csod-Test-Eicar" "and so does the log"

drop "$T_DIR/clean.exe" good.exe
wait_state good.exe signed 60
ok $? "a clean drop passes and is signed under auto-approve"
dir=$(request_dir good.exe)
check "osslsigncode verifies it" osslsigncode verify -CAfile "$SPOOL/ca/ca.pem" -in "$dir/good.exe"

# clamd refusing a stream over StreamMaxLength is a scan that did not run.
cp "$T_DIR/clean.exe" "$T_DIR/large.exe"
head -c 1500000 /dev/zero >>"$T_DIR/large.exe"
drop "$T_DIR/large.exe" large.exe
wait_checked large.exe
dir=$(request_dir large.exe)
is "$(field "$dir/request.json" checks.state)" hold "a file over clamd's StreamMaxLength is held, not passed"
like "$(field "$dir/request.json" checks.results.0.reason)" "size limit exceeded.*StreamMaxLength" "saying why"
is "$(state_of large.exe)" created "and waits for a human"

# --- clamd stopped: held, not signed ---------------------------------------
stop_clamd
check "csodctl check-config says clamd does not answer" sh -c "! csodctl --config '$CONF' check-config"
like "$(cat "$T_DIR/check.out")" "cannot reach clamd" "naming the reason"
drop "$T_DIR/clean.exe" held.exe
wait_checked held.exe
dir=$(request_dir held.exe)
id=$(dir_id "$dir")
is "$(field "$dir/request.json" checks.state)" hold "with clamd stopped the request is held"
like "$(field "$dir/request.json" checks.results.0.reason)" "cannot reach clamd on .*clamd.sock" "the verdict says why"
sleep 2
is "$(state_of held.exe)" created "it is not signed under auto-approve: it waits for a human"
mail=$(grep -l "request $id" "$SPOOL"/mail/*.eml | xargs grep -l "appr@dithercons.com" | head -1)
like "$(tr -d '\r' <"${mail:-/dev/null}")" "Pre-sign checks: hold \(clamav: error: cannot scan held.exe: cannot reach clamd" "the approvers are asked, with the reason"
as_appr request approve "$id" -m "scanned by hand" >/dev/null 2>&1
wait_state held.exe signed 60
ok $? "an approver can still approve a held request"

# --- clamd over TCP, after a reload ------------------------------------
start_clamd
EXTRA="checks = { clamav = { tcp = \"127.0.0.1:$PORT\"; timeout = \"20s\"; }; };"
write_config
check "check-config reaches clamd over TCP" csodctl --config "$CONF" check-config
like "$(cat "$T_DIR/check.out")" "clamd on 127.0.0.1:$PORT answers" "saying where"
kill -HUP "$DAEMON_PID"
wait_for 10 sh -c "[ \$(grep -c 'config.reload' '$LOG') -ge 1 ]"
ok $? "csodd reloads the new checks block"
drop "$T_DIR/eicar.exe" tcp.exe
wait_state tcp.exe declined 60
ok $? "clamd over TCP flags the drop too"
like "$(cat "$(request_dir tcp.exe)/ERROR")" "clamav: fail: Csod-Test-Eicar" "with the signature"

check "csodd is still running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
