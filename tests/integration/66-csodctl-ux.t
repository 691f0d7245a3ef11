#!/bin/bash
# csodctl as people expect it (issue 13): an unknown verb names the nearest
# real one; `csodctl VERB [SUB] --help` works for every verb without the
# configuration (also for a user who may not read it); --json may follow the
# verb; one JSON schema per object (ISO 8601 UTC times, arrays for lists,
# null for none, report keyed by machine names); exit status 2 for usage
# errors, 1 for failures, 0 for success; `request list --state bogus` is a
# usage error naming the states.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root to create a user"
add_users plain
AUTO_APPROVE=false
write_config
MISSING=$T_DIR/no-such.conf
PY=/usr/bin/python3

# --- before any configuration: typos, help, version ---------------------------
out=$(csodctl --config "$MISSING" requst 2>&1)
is "$?" 2 "an unknown verb is a usage error (2)"
is "$out" "csodctl: unknown command 'requst' (did you mean 'request'?)" "naming the nearest verb"
out=$(csodctl --config "$MISSING" request lst 2>&1)
is "$?" 2 "an unknown sub-verb is a usage error (2)"
like "$out" "unknown command 'request lst' \(did you mean 'request list'\?\)" "naming the nearest sub-verb"
like "$(csodctl --config "$MISSING" cert revok 2>&1)" "did you mean 'cert revoke'" "for every verb (cert revok)"
like "$(csodctl --config "$MISSING" audti list 2>&1)" "did you mean 'audit'" "and audti"
out=$(csodctl --config "$MISSING" frobnicate 2>&1)
is "$?" 2 "a word near no verb is a usage error too"
like "$out" "unknown command 'frobnicate' \(see csodctl --help\)" "without a far-fetched guess"

check "csodctl --help needs no configuration" csodctl --config "$MISSING" --help
check "csodctl --version needs no configuration" csodctl --config "$MISSING" --version
for cmd in "request" "request list" "request show" "request approve" "request decline" \
	"request download" "request resend" "approve" "decline" "developer" "developer list" \
	"developer add" "developer edit" "developer reset" "developer remove" "cert" "cert list" \
	"cert show" "cert download" "cert add" "cert renew" "cert revoke" "keys" \
	"keys rotate-master" "mail" "mail list" "mail retry" "auto-approve" "audit" \
	"audit list" "audit verify" "report"; do
	# shellcheck disable=SC2086 # the words of the command
	out=$(csodctl --config "$MISSING" $cmd --help 2>&1)
	rc=$?
	ok $(( rc != 0 )) "csodctl $cmd --help exits 0 without a configuration"
	like "$out" "^usage: csodctl $cmd" "and prints the usage of $cmd"
done
out=$(runuser -u "csr-plain$$" -- csodctl request approve --help 2>&1)
is "$?" 0 "a user who may read no configuration gets help too"
like "$out" "usage: csodctl request approve ID" "the verb's own"
out=$(runuser -u "csr-plain$$" -- csodctl requst 2>&1)
is "$?" 2 "and the typo suggestion"

# --- against csodd ------------------------------------------------------------
start_daemon || exit 1
ctl() { run_tool csodctl --config "$CONF" "$@"; }
make_hash_drop a.sha256
drop_by_rename a.sha256
wait_state a.sha256 created
id=$(dir_id "$(request_dir a.sha256)")
wait_for 30 sh -c "[ \"\$(db_sql \"SELECT COUNT(*) FROM certificates WHERE state = 'issued' AND is_ca = 0\")\" -ge 1 ]"

before=$(ctl --json request list)
after=$(ctl request list --json)
ok $? "--json is accepted after the verb"
is "$after" "$before" "with the same output as before it"
is "$(ctl request show "$id" --json)" "$(ctl --json request show "$id")" "request show ID --json too"

# A checker for the JSON rules: ISO 8601 UTC times, null (never "" or "-").
cat >"$T_DIR/schema.py" <<'PY'
import json, re, sys
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
def bad(v, path):
    if isinstance(v, dict):
        # maps keyed by data (a state word, an organization's name)
        data = path in ("report.requests_per_state", "auto.organizations")
        for k, x in v.items():
            if not data and not re.match(r"^[a-z][a-z0-9_]*$", k):
                yield f"{path}: key {k!r} is not a machine name"
            yield from bad(x, f"{path}[{k!r}]" if data else f"{path}.{k}")
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from bad(x, f"{path}[{i}]")
    elif v in ("", "-"):
        yield f"{path}: {v!r} instead of null"
    elif isinstance(v, int) and not isinstance(v, bool) and re.search(r"\.(created|updated|approved|signed|expires|requested|collected|revoked|time)$", path):
        yield f"{path}: a number, not an ISO time"
    elif isinstance(v, str) and re.search(r"\.(created|updated|approved|signed|expires|requested|collected|revoked|time)$", path) and not ISO.match(v):
        yield f"{path}: {v!r} is not ISO 8601 UTC"
doc = json.load(sys.stdin)
errors = list(bad(doc, sys.argv[1]))
for e in errors:
    print(e)
# further checks named on the command line, each a Python expression on doc
for expr in sys.argv[2:]:
    if not eval(expr, {"doc": doc, "ISO": ISO}):
        print("failed:", expr)
        errors.append(expr)
sys.exit(1 if errors else 0)
PY
schema() { $PY "$T_DIR/schema.py" "$@"; }
out=$(ctl request list --json | schema list 'isinstance(doc, list) and len(doc) == 1' \
	'ISO.match(doc[0]["created"])' 'doc[0]["approved"] is None and doc[0]["signed"] is None' \
	'doc[0]["version"] is None' 'isinstance(doc[0]["digests"], list)' 'isinstance(doc[0]["files"], list)')
ok $? "request list --json: ISO times, null for none, arrays for lists"
[ -z "$out" ] || diag "$out"
out=$(ctl request show "$id" --json | schema show 'doc["id"] == "'"$id"'"' 'ISO.match(doc["created"])' \
	'doc["approved"] is None and doc["approver"] is None and doc["message"] is None')
ok $? "request show --json: the same schema"
[ -z "$out" ] || diag "$out"
keys_list=$(ctl request list --json | $PY -c 'import json,sys; print(sorted(json.load(sys.stdin)[0]))')
keys_show=$(ctl request show "$id" --json | $PY -c 'import json,sys; print(sorted(json.load(sys.stdin)))')
is "$keys_list" "$keys_show" "a request has one schema in list and show"
out=$(ctl cert list --json | schema certs 'isinstance(doc, list) and len(doc) >= 2' \
	'all(c["expires"] is None or ISO.match(c["expires"]) for c in doc)' \
	'any(c["ca"] and c["developer"] is None for c in doc)' \
	'all(isinstance(c["csod"], bool) for c in doc)')
ok $? "cert list --json: ISO times, null for none, booleans"
[ -z "$out" ] || diag "$out"
cid=$(db_sql "SELECT id FROM certificates WHERE is_ca = 0 AND state = 'issued' LIMIT 1")
out=$(ctl cert show "$cid" --json | schema cert 'doc["id"] == '"$cid" 'ISO.match(doc["expires"])' 'doc["revoked"] is None')
ok $? "cert show --json: the same object"
[ -z "$out" ] || diag "$out"
out=$(ctl report --json | schema report \
	'sorted(doc) == sorted(["requests_per_state", "requests_per_organization", "requests_per_developer", "signed_last_30_days", "mean_seconds_to_approval", "certificates_expiring"])' \
	'doc["requests_per_state"] == {"created": 1}' \
	'doc["requests_per_developer"] == [{"developer": "dagwood", "requests": 1}]' \
	'doc["signed_last_30_days"] == {"files": 0, "bytes": 0}' \
	'doc["mean_seconds_to_approval"] is None' 'isinstance(doc["certificates_expiring"], list)')
ok $? "report --json: keyed by machine names, numbers as numbers, null for none"
[ -z "$out" ] || diag "$out"
out=$(ctl audit list --json | schema audit 'all(ISO.match(e["time"]) for e in doc)')
ok $? "audit list --json: ISO times"
out=$(ctl auto-approve status --json | schema auto 'doc["global"] == "off"' \
	'doc["organizations"] == {"'"$ORG"'": "off"}')
ok $? "auto-approve status --json: organizations apart from global"
[ -z "$out" ] || diag "$out"
ctl developer list --json | schema developers 'doc[0]["user"] == "dagwood"' >/dev/null
ok $? "developer list --json follows the rules"
ctl mail list --json | schema mail 'isinstance(doc, list)' >/dev/null
ok $? "mail list --json follows the rules"

# --- exit status: 2 usage, 1 failure, 0 success --------------------------------
out=$(ctl request list --state bogus 2>&1)
is "$?" 2 "request list --state bogus is a usage error"
like "$out" 'no state "bogus" \(states: created, approved, in_progress, signed, expired, declined, failed\)' "naming the valid states"
expect() { # expect STATUS DESCRIPTION CMD...
	local want=$1 what=$2
	shift 2
	"$@" >/dev/null 2>&1
	is "$?" "$want" "$what"
}
expect 2 "request (no sub-verb) is a usage error" ctl request
expect 2 "request show without an ID" ctl request show
expect 2 "request list with an unknown option" ctl request list --bogus
expect 2 "request list --since with a bad date" ctl request list --since yesterday-ish
expect 2 "request approve without an ID" ctl request approve
expect 2 "request download without a file" ctl request download "$id"
expect 2 "cert download --format bogus" ctl cert download "$cid" --format bogus
expect 2 "cert revoke with a stray argument" ctl cert revoke "$cid" extra
expect 2 "cert add without --email" ctl cert add --organization "$ORG"
expect 2 "developer add without --user" ctl developer add x@dithercons.com --organization "$ORG"
expect 2 "audit list --since bogus" ctl audit list --since bogus
expect 2 "auto-approve maybe" ctl auto-approve maybe
expect 2 "mail with no sub-verb" ctl mail
expect 2 "report with an argument" ctl report extra
expect 2 "keys rotate" ctl keys rotate
expect 1 "request show of an unknown id fails (1)" ctl request show 20260101-000000-XXXX
expect 1 "cert show of an unknown certificate fails (1)" ctl cert show 99999
expect 1 "a plain user's request list fails (1)" runuser -u "csr-plain$$" -- csodctl --socket "$SPOOL/run/csod.sock" request list
expect 0 "request list succeeds (0)" ctl request list
expect 0 "report succeeds (0)" ctl report
expect 2 "a usage error through csodd is 2 as well" runuser -u "csr-plain$$" -- csodctl --socket "$SPOOL/run/csod.sock" request list --state bogus
done_testing
