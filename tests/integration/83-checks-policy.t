#!/bin/bash
# Pre-sign checks, the policy hook (issue 15): an administrator's program,
# run without a shell with the request's facts in its environment and the
# store copy (never the inbox) to read. Exit 0 passes, 1 fails, 2 holds for
# a human; a time-out or any other exit holds too ("cannot run"), never a
# pass. A hook that changes the store copy fails the request.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create users"
chmod 755 "$T_DIR"

DEV=csodt-pdev$$
APPR=csodt-pappr$$
for u in $DEV $APPR; do useradd -M -N -s /usr/sbin/nologin "$u" || exit 1; done
trap 'for u in $DEV $APPR; do userdel "$u" 2>/dev/null; done; cleanup' EXIT

# The hook: what it saw goes to $SAW/<drop>.*; what it answers depends on
# the drop's name.
SAW=$T_DIR/saw
mkdir -p "$SAW"
cat >"$T_DIR/hook" <<EOF
#!/bin/bash
saw=$SAW/\$CSOD_DROP
env | grep '^CSOD_' | sort >"\$saw.env"
pwd >"\$saw.pwd"
cp "\$CSOD_FILES" "\$saw.list"
sha256sum -c "\$CSOD_FILES" >"\$saw.sums" 2>&1
echo run >>"\$saw.runs"
stat -c '%a %U' * >"\$saw.modes"
case "\$CSOD_DROP" in
pass*) echo "built by CI, version \$CSOD_VERSION"; echo "more detail"; exit 0 ;;
fail*) echo "version \$CSOD_VERSION matches no release tag"; exit 1 ;;
hold*) echo "a first release: a human should look"; exit 2 ;;
slow*) sleep 30.3; exit 0 ;;
bad*) echo "internal trouble"; exit 7 ;;
tamper*) echo extra >>"\$(head -1 "\$CSOD_FILES" | cut -c67-)"; exit 0 ;;
wait*) for i in \$(seq 500); do [ -e "\$saw.release" ] && break; sleep 0.1; done; echo "looked at it"; exit 0 ;;
restart*) [ -e "\$saw.again" ] || { touch "\$saw.again"; sleep 30.4; }; echo "second look"; exit 0 ;;
esac
echo "unexpected drop"; exit 9
EOF
chmod 755 "$T_DIR/hook"

ADMINS="{ user = \"$APPR\"; email = \"appr@dithercons.com\"; role = \"MRAO\"; }"
EXTRA="checks = { policy = { command = [ \"$T_DIR/hook\", \"--site\", \"dithers\" ]; timeout = \"4s\"; }; };"
AUTO_APPROVE=true
write_config
check "csodctl check-config accepts the hook" csodctl --config "$CONF" check-config
like "$(cat "$T_DIR/check.out")" "checks.policy: $T_DIR/hook \(time limit 4 s\)" "and names it"

# Configuration mistakes are refused with the line and the key.
bad_conf() { # bad_conf CHECKS-BLOCK: csodd --check-config's message
	sed '/^checks = /d' "$CONF" >"$T_DIR/bad.conf"
	echo "$1" >>"$T_DIR/bad.conf"
	csodd --config "$T_DIR/bad.conf" --check-config 2>&1
}
like "$(bad_conf 'checks = { policy = { command = [ "hook.sh" ]; }; };')" "bad.conf:[0-9]+: checks.policy.command: expected the program's absolute path" "a hook named without its path is refused"
like "$(bad_conf 'checks = { clamav = { socket = "/run/c.sock"; tcp = "127.0.0.1:3310"; }; };')" "checks.clamav: expected exactly one of socket" "socket and tcp together are refused"
like "$(bad_conf 'checks = { clamav = { tcp = "localhost"; }; };')" "checks.clamav.tcp: expected \"host:port\"" "a tcp address without a port is refused"
like "$(bad_conf 'checks = { virus = { }; };')" "checks.virus: unknown setting" "an unknown check is refused"
chmod 644 "$T_DIR/hook"
check "check-config says when the hook cannot run" sh -c "! csodctl --config '$CONF' check-config"
like "$(cat "$T_DIR/check.out")" "cannot run $T_DIR/hook: Permission denied" "naming the reason"
chmod 755 "$T_DIR/hook"

start_daemon || exit 1
STAGE=$T_DIR/stage
mkdir "$STAGE" && chown "$DEV" "$STAGE"
as_dev() { runuser -u "$DEV" -- "$@"; }
# drop NAME [VERSION]: a folder drop of the developer's (a hash file and a
# request.conf), moved into the inbox in one rename.
drop() {
	as_dev mkdir "$STAGE/$1"
	head -c 4096 /dev/urandom >"$T_DIR/$1.data"
	(cd "$T_DIR" && sha256sum "$1.data") | as_dev tee "$STAGE/$1/app.sha256" >/dev/null
	echo "version = \"${2:-1.0}\";" | as_dev tee "$STAGE/$1/request.conf" >/dev/null
	as_dev mv "$STAGE/$1" "$SPOOL/inbox/$DEV/$1"
}
field() { /usr/bin/python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else (v or {}).get(k)
print("" if v is None else v)' "$1" "$2"; }
wait_checked() {
	wait_for "${2:-30}" sh -c "d=\$(grep -l '\"drop\": \"$1\"' '$SPOOL/outbox/$DEV'/*/request.json 2>/dev/null | head -1);
		[ -n \"\$d\" ] && grep -A1 '\"checks\"' \"\$d\" | grep -Eq '\"state\": \"(pass|fail|hold)\"'"
}
verdict() { field "$(request_dir "$1")/request.json" "checks.results.0.$2"; }

# --- pass: signed; and what the hook saw -----------------------------------
drop pass-app 2.4.1
wait_state pass-app signed 30
ok $? "exit 0 passes: the request is signed under auto-approve"
is "$(verdict pass-app verdict)" pass "the verdict is pass"
is "$(verdict pass-app reason)" "built by CI, version 2.4.1" "its reason is the hook's first line"
id=$(dir_id "$(request_dir pass-app)")
env_seen=$(cat "$SAW/pass-app.env")
like "$env_seen" "CSOD_REQUEST_ID=$id" "the hook gets the request id"
like "$env_seen" "CSOD_DEVELOPER=$DEV" "... the developer"
like "$env_seen" "CSOD_ORGANIZATION=Dithers Construction Company" "... the organization"
like "$env_seen" "CSOD_DEPARTMENT=Software Development" "... the department"
like "$env_seen" "CSOD_DROP=pass-app" "... the drop's name"
like "$env_seen" "CSOD_VERSION=2.4.1" "... the version"
like "$env_seen" "CSOD_SERVICE=hash" "... the signing service"
like "$env_seen" "CSOD_FILE_COUNT=1" "... the number of files"
like "$env_seen" "CSOD_STORE_DIR=$SPOOL/store/$id" "... and the store copy's folder"
check "nothing it is given names the inbox" sh -c "! grep -q '/inbox' '$SAW/pass-app.env'"
is "$(cat "$SAW/pass-app.pwd")" "$SPOOL/store/$id" "it runs in the store copy's folder"
is "$(cat "$SAW/pass-app.sums")" "app.sha256: OK" "the store copy it reads holds what the developer dropped"
like "$(cat "$SAW/pass-app.list")" "^[0-9a-f]{64}  app.sha256$" "its file list is sha256sum's format"
is "$(cat "$SAW/pass-app.modes")" "400 root" "the store copy was read-only (0400, csodd's) while it ran"
like "$(csodctl --config "$CONF" audit list)" "check.verdict .*policy: pass: built by CI" "the verdict is audited"

# --- fail: declined, with the reason ------------------------------------
drop fail-app 9.9
wait_state fail-app declined 30
ok $? "exit 1 fails: declined under auto-approve"
like "$(cat "$(request_dir fail-app)/ERROR")" "policy: fail: version 9.9 matches no release tag" "ERROR gives the hook's reason"

# --- hold, time-out, bad exit: held for a human -----------------------------
drop hold-app
wait_checked hold-app
is "$(verdict hold-app verdict)" hold "exit 2 holds"
is "$(verdict hold-app reason)" "a first release: a human should look" "with the hook's reason"
drop slow-app
wait_checked slow-app 20
is "$(verdict slow-app verdict)" error "a hook past its time limit could not run"
like "$(verdict slow-app reason)" "cannot run: killed after 4 s" "saying so"
drop bad-app
wait_checked bad-app
is "$(verdict bad-app verdict)" error "any other exit status is 'cannot run'"
like "$(verdict bad-app reason)" "cannot run: ended with exit status 7: internal trouble" "with the status and the hook's line"
for n in hold-app slow-app bad-app; do
	is "$(field "$(request_dir $n)/request.json" checks.state)" hold "$n: the request is held"
	is "$(state_of $n)" created "$n: and not signed under auto-approve"
done
check "what the timed-out hook started was killed with it" sh -c "! pgrep -f 'slee[p] 30.3' >/dev/null"

# --- a hook that writes to the store copy fails the request ---------------
drop tamper-app
wait_state tamper-app failed 30
ok $? "a hook that changes the store copy fails the request"
like "$(cat "$(request_dir tamper-app)/ERROR")" "the policy hook changed the store copy of app.sha256" "ERROR says so"

# --- checks interrupted by a stop run again at the next start ------------
drop restart-app
wait_for 10 test -e "$SAW/restart-app.again"
ok $? "the hook is running"
stop_daemon
ok $? "csodd stops without waiting for the hook"
is "$(state_of restart-app)" created "the request still waits"
start_daemon || exit 1
wait_state restart-app signed 30
ok $? "after the restart the checks ran again and the request was signed"
is "$(wc -l <"$SAW/restart-app.runs")" 2 "the hook ran twice"

# --- manual approval: no approval before the verdict -----------------------
stop_daemon
AUTO_APPROVE=false
# (a time limit the test's own pace cannot reach: the hook waits for it)
EXTRA="checks = { policy = { command = [ \"$T_DIR/hook\" ]; timeout = \"60s\"; }; };"
write_config
start_daemon || exit 1
drop wait-app
wait_for 10 request_dir wait-app
id=$(dir_id "$(request_dir wait-app)")
out=$(runuser -u "$APPR" -- csodctl --config "$CONF" request approve "$id" 2>&1)
like "$out" "the pre-sign checks of request $id have not finished" "csodctl refuses to approve while the checks run"
runuser -u "$APPR" -- sh -c "printf 'ok' > '$SPOOL/approvals/.$id.t' && mv '$SPOOL/approvals/.$id.t' '$SPOOL/approvals/$id.approve'"
wait_for 10 test -f "$SPOOL/approvals/$id.approve.reason"
like "$(cat "$SPOOL/approvals/$id.approve.reason" 2>/dev/null)" "have not finished" "so does csodd, for a marker"
touch "$SAW/wait-app.release"
wait_checked wait-app
is "$(verdict wait-app reason)" "looked at it" "the verdict comes in"
out=$(runuser -u "$APPR" -- csodctl --config "$CONF" request approve "$id" 2>&1)
ok $? "then the approver may approve: $out"
wait_state wait-app signed 30
ok $? "and it is signed"

check "csodd is still running" daemon_alive
stop_daemon
ok $? "csodd stops cleanly"
done_testing
