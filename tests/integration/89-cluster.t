#!/bin/bash
# Cluster mode: three csodd nodes (separate processes, state directories and
# node names) on one spool and one database take 300 drops of three
# developers (real Unix users), most auto-approved, some approved by an
# admin's markers. One node is killed (kill -9) while it takes a drop in,
# another while it signs; the others finish their work once the lease ran
# out, and the killed ones come back. Then: every drop is one request,
# signed once (each signature verified), every mail sent once, the audit
# chain intact, nothing half-written in an outbox.
#
# The database: one SQLite file on local disk by default; with CSOD_TEST_DB=
# postgresql (make check's integration-postgresql) one PostgreSQL server,
# which lib.sh starts and write_config names in every node's config.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (real Unix users)"

case "${CSOD_TEST_DB:-sqlite}" in
sqlite) DB_CONF="database = { backend = \"sqlite\"; path = \"$T_DIR/shared/csod.db\"; };" ;;
postgresql)
	# lib.sh started the private server; write_config adds its
	# database { } line (test_db_config) to every node's config.
	DB_CONF=""
	;;
*) skip_all "CSOD_TEST_DB=$CSOD_TEST_DB: unknown" ;;
esac
mkdir -p "$T_DIR/shared"

add_users d1 d2 d3 adm
D1=csr-d1$$ D2=csr-d2$$ D3=csr-d3$$ ADM=csr-adm$$
MANUAL="Manual Works"
N_SMALL=300
ADMINS="{ user = \"root\"; email = \"root@dithercons.com\"; role = \"MRAO\"; },
  { user = \"$ADM\"; email = \"adm@dithercons.com\"; role = \"MRAO\"; }"
DEVELOPERS_EXTRA=",
  { user = \"$D1\"; email = \"d1@dithercons.com\"; name = \"D One\"; organization = \"$ORG\"; },
  { user = \"$D2\"; email = \"d2@dithercons.com\"; name = \"D Two\"; organization = \"$ORG\"; },
  { user = \"$D3\"; email = \"d3@manual.example\"; name = \"D Three\"; organization = \"$MANUAL\"; }"

# One config per node: its name, its state directory and control socket;
# the spool, the database and the master key are shared.
head -c 32 /dev/urandom >"$T_DIR/shared/master.key"
chmod 600 "$T_DIR/shared/master.key"
for n in a b c; do
	mkdir -p "$T_DIR/state-$n"
	EXTRA="node = \"$n\"; node_lease = \"30s\"; max_request_files = 5000; state_dir = \"$T_DIR/state-$n\";
control_socket = \"$T_DIR/state-$n/csod.sock\"; $DB_CONF"
	write_config
	# A second organization, approved by hand.
	sed -i "s|^organizations = (|organizations = (\n  { name = \"$MANUAL\"; domains = [ \"manual.example\" ]; auto_approve = false; },|" "$CONF"
	sed -i "s|^keys = .*|keys = { backend = \"database\"; master_key_file = \"$T_DIR/shared/master.key\"; };|" "$CONF"
	cp "$CONF" "$T_DIR/$n.conf"
done

declare -A PID
start_node() { # start_node NAME
	csodd --config "$T_DIR/$1.conf" --foreground >/dev/null 2>>"$T_DIR/csodd-$1.log" &
	PID[$1]=$!
}
kill_node() { # kill_node NAME: kill -9
	kill -9 "${PID[$1]}" 2>/dev/null
	wait "${PID[$1]}" 2>/dev/null
	PID[$1]=
}
stop_nodes() {
	local n
	for n in a b c; do
		[ -n "${PID[$n]:-}" ] && kill "${PID[$n]}" 2>/dev/null && wait "${PID[$n]}" 2>/dev/null
		PID[$n]=
	done
}
trap 'stop_nodes; for u in $T_USERS; do userdel "csr-$u$$" 2>/dev/null; done; cleanup' EXIT
bail() { stop_nodes; done_testing; exit 1; }
ctl() { csodctl --config "$T_DIR/a.conf" --offline "$@"; }
LOG=$T_DIR/csodd-a.log

# The first node makes the spool, the database, the CA; then the others.
start_node a
wait_for 60 test -f "$SPOOL/ca/ca.pem" -a -d "$SPOOL/inbox/$D3"
ok $? "node a starts on the fresh spool and database"
start_node b
start_node c
wait_for 30 sh -c "csodctl --config '$T_DIR/a.conf' --offline node list | grep -c ' alive ' | grep -qx 3"
ok $? "csodctl node list shows three live nodes"
check "each node has its own scratch folder" test -d "$SPOOL/tmp/a" -a -d "$SPOOL/tmp/b" -a -d "$SPOOL/tmp/c"
is "$(find "$SPOOL/inbox/$D1" -maxdepth 0 -printf '%u')" "$D1" "inboxes belong to their developers"

# The drops, copied into the inboxes by the developers themselves, written
# in one go (a shell loop of 2,700 files takes long): 4 KiB of data
# f<i>.bin and its sha256sum line f<i>.sha256; a folder that takes a while
# to take in (the intake to interrupt) and one that takes a while to sign,
# each of $N_SLOW digest files.
N_SLOW=800
# Drop i is whose: every tenth of the manual organization's developer.
who_of() { case $(($1 % 10)) in 0) echo "$D3" ;; 1 | 3 | 5 | 7) echo "$D1" ;; *) echo "$D2" ;; esac; }
/usr/bin/python3 - "$T_DIR/data" "$N_SMALL" "$N_SLOW" <<'PY'
import hashlib, os, sys
top, n, slow = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for d in ("slowin", "slowsign"):
    os.makedirs(os.path.join(top, d))
for i in range(1, n + 1):
    data = os.urandom(4096)
    open(os.path.join(top, "f%d.bin" % i), "wb").write(data)
    open(os.path.join(top, "f%d.sha256" % i), "w").write(
        "%s  f%d.bin\n" % (hashlib.sha256(data).hexdigest(), i))
for d, p in (("slowin", "in"), ("slowsign", "s")):
    for i in range(1, slow + 1):
        open(os.path.join(top, d, "%s%d.sha256" % (p, i)), "w").write("%064x  %s%d\n" % (i, p, i))
PY
chmod -R a+rX "$T_DIR/data"

drop_as() { # drop_as USER NAME: copies data/NAME into USER's inbox, atomically
	runuser -u "$1" -- sh -c "cp -r '$T_DIR/data/$2' '$SPOOL/inbox/$1/.$2.tmp' && mv '$SPOOL/inbox/$1/.$2.tmp' '$SPOOL/inbox/$1/$2'"
}

# 300 drops from three developers at once, and the slow one among them.
DROPPERS=
for u in "$D1" "$D2" "$D3"; do
	(for i in $(seq 1 $N_SMALL); do
		[ "$(who_of "$i")" = "$u" ] && drop_as "$u" "f$i.sha256"
	done) &
	DROPPERS="$DROPPERS $!"
done
drop_as "$D1" slowin

# kill -9 the node that takes the slow folder in, while it copies it.
wait_for 60 sh -c "ls '$SPOOL/store/incoming/' | grep -q '\.$D1\$' && ls '$SPOOL/store/incoming/'*/slowin >/dev/null"
victim=
for name in $(ls "$SPOOL/store/incoming/"); do
	[ -e "$SPOOL/store/incoming/$name/slowin" ] || continue
	victim=${name#*@}
	victim=${victim%%.*}
done
[ -n "$victim" ] && [ -n "${PID[$victim]:-}" ]
r=$?
ok $r "the slow folder is being taken in by node $victim"
[ $r = 0 ] || bail
kill_node "$victim"
INTAKE_VICTIM=$victim
check "its intake is left in store/incoming" sh -c "ls -d '$SPOOL/store/incoming/'*@$victim.$D1 >/dev/null"
wait $DROPPERS # every drop is in an inbox

# Another node finishes the interrupted intake once the lease ran out.
wait_for 120 sh -c "grep -l '\"drop\": \"slowin\"' '$SPOOL/outbox/$D1/'*/request.json >/dev/null"
ok $? "another node finishes the intake node $victim left"
check "store/incoming no longer holds it" sh -c "! ls -d '$SPOOL/store/incoming/'*@$victim.* 2>/dev/null"

# The admin approves the manual drops with markers, all at once: every
# node sees every marker.
wait_for 120 sh -c "[ \$(grep -l '\"state\": \"created\"' '$SPOOL/outbox/$D3/'*/request.json 2>/dev/null | wc -l) -eq $((N_SMALL / 10)) ]"
ok $? "the $((N_SMALL / 10)) drops of the manual organization wait for approval"
for f in "$SPOOL/outbox/$D3/"*/request.json; do
	id=$(json_field "$f" id)
	runuser -u "$ADM" -- sh -c "echo ok >'$SPOOL/approvals/.$id.tmp' && mv '$SPOOL/approvals/.$id.tmp' '$SPOOL/approvals/$id.approve'"
done

all_small_signed() {
	local n
	n=$(grep -lx signed "$SPOOL"/outbox/csr-d[123]$$/*/STATUS 2>/dev/null | wc -l)
	[ "$n" -ge $((N_SMALL + 1)) ]
}
wait_for 300 all_small_signed
ok $? "the 300 drops (and the slow folder) are signed"

# kill -9 the node that signs the slow-to-sign folder.
start_node "$INTAKE_VICTIM"
drop_as "$D2" slowsign
wait_for 120 sh -c "d=\$(grep -l '\"drop\": \"slowsign\"' '$SPOOL/outbox/$D2/'*/request.json 2>/dev/null); [ -n \"\$d\" ] && grep -qx in_progress \"\$(dirname \"\$d\")/STATUS\""
ok $? "the slow folder is being signed"
signer=$(ctl node list --json | /usr/bin/python3 -c 'import json,sys; print(" ".join(n["node"] for n in json.load(sys.stdin) if n["signing"] > 0))')
is "$(echo "$signer" | wc -w)" 1 "one node holds its signing ($signer)"
[ "$(echo "$signer" | wc -w)" = 1 ] || bail
kill_node "$signer"
wait_for 90 sh -c "csodctl --config '$T_DIR/a.conf' --offline node list | grep -q '^$signer .* dead '"
ok $? "node list shows node $signer dead once its lease ran out"
out=$(grep -l '"drop": "slowsign"' "$SPOOL/outbox/$D2/"*/request.json | xargs -d '\n' dirname)
wait_for 180 sh -c "grep -qx signed '$out/STATUS'"
ok $? "another node signs the request node $signer held"
start_node "$signer"
wait_for 30 sh -c "csodctl --config '$T_DIR/a.conf' --offline node list | grep -c ' alive ' | grep -qx 3"
ok $? "both killed nodes are back: three live nodes"

# Every small drop: one request, signed, its signature verified.
bad=0 dup=0
for i in $(seq 1 $N_SMALL); do
	u=$(who_of "$i")
	dirs=$(grep -l "\"drop\": \"f$i.sha256\"" "$SPOOL/outbox/$u/"*/request.json 2>/dev/null | wc -l)
	[ "$dirs" = 1 ] || { dup=$((dup + 1)); continue; }
	d=$(dirname "$(grep -l "\"drop\": \"f$i.sha256\"" "$SPOOL/outbox/$u/"*/request.json)")
	grep -qx signed "$d/STATUS" && verify_p7s "$d/f$i.sha256.p7s" "$T_DIR/data/f$i.bin" 2>/dev/null ||
		{ bad=$((bad + 1)); echo "# f$i.sha256 ($u): $(cat "$d/STATUS")"; }
done
is "$dup" 0 "every drop became exactly one request"
is "$bad" 0 "every drop is signed and its signature verifies"
d=$(grep -l '"drop": "slowin"' "$SPOOL/outbox/$D1/"*/request.json | xargs -d '\n' dirname)
is "$(ls "$d"/*.p7s | wc -l)" "$N_SLOW" "slowin: all $N_SLOW signatures, each once"
d=$(grep -l '"drop": "slowsign"' "$SPOOL/outbox/$D2/"*/request.json | xargs -d '\n' dirname)
is "$(ls "$d"/*.p7s | wc -l)" "$N_SLOW" "slowsign: all $N_SLOW signatures, each once"
bad=0
for f in "$d"/*.p7s; do openssl cms -cmsout -inform DER -in "$f" -noout 2>/dev/null || bad=$((bad + 1)); done
is "$bad" 0 "slowsign: every signature parses (none half-written by the killed node)"

# Signed exactly once: one transition to signed per request in the audit.
ctl audit list --json >"$T_DIR/audit.json"
twice=$(/usr/bin/python3 - "$T_DIR/audit.json" <<'PY'
import json, sys, collections
rows = json.load(open(sys.argv[1]))
c = collections.Counter(r["object"] for r in rows
                        if r["action"] == "request.state" and r["detail"].endswith("-> signed"))
print(len(c), sum(1 for v in c.values() if v != 1))
PY
)
is "$twice" "$((N_SMALL + 2)) 0" "the audit records one signing per request, none twice"
check "csodctl audit verify: the chain is intact" ctl audit verify

# Every mail once: no two messages with one Message-ID, or to one person
# with one subject; each request's signed notice exactly once.
mails=$(/usr/bin/python3 - "$SPOOL/mail" <<'PY'
import email, os, sys, collections
ids, pairs, signed = collections.Counter(), collections.Counter(), collections.Counter()
for f in os.listdir(sys.argv[1]):
    if not f.endswith(".eml"):
        continue
    m = email.message_from_file(open(os.path.join(sys.argv[1], f)))
    ids[m["Message-ID"]] += 1
    pairs[(m["To"], m["Subject"])] += 1
    if "is signed" in m["Subject"]:
        signed[m["Subject"]] += 1
print(sum(1 for v in ids.values() if v > 1), sum(1 for v in pairs.values() if v > 1),
      len(signed), sum(1 for v in signed.values() if v > 1))
PY
)
is "$mails" "0 0 $((N_SMALL + 2)) 0" "every mail sent once: one signed notice per request, no duplicate"

check "no partial or temporary file in any outbox" test -z "$(find "$SPOOL/outbox" -name '.*')"
check "store/incoming is empty" test -z "$(ls -A "$SPOOL/store/incoming")"
check "approvals/ holds no marker left unprocessed" test -z "$(find "$SPOOL/approvals" -maxdepth 1 -type f -name '*.approve')"
is "$(ls "$SPOOL/approvals/done" | grep -c '\.approve$')" "$((N_SMALL / 10))" "each marker was processed once"
for n in a b c; do
	check "node $n logged no double signing" sh -c "! grep -q 'another node changed it' '$T_DIR/csodd-$n.log'"
done
stop_nodes
done_testing
