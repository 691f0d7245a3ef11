#!/bin/bash
# A cluster on one PKCS#11 token: three csodd nodes (separate processes,
# state directories and node names) on one spool and one SQLite file, with
# keys.backend = "pkcs11" on one SoftHSM2 token whose token directory is in
# the shared directory (every node's SOFTHSM2_CONF names it; SoftHSM2 locks
# its files). Fresh developers, added while the nodes run (by csodctl, and
# by a config reload all nodes get at once), drop several files at once, so
# that every node would enroll and sign for them at the same moment. A node
# is killed (kill -9) while it signs and comes back. Then: the CA's key and
# each developer's key were made once cluster-wide (the token holds exactly
# one private key each, the one its certificate is for), every drop is one
# request, signed once, its signature verified.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (real Unix users)"
MODULE=$(dpkg -L libsofthsm2 2>/dev/null | grep 'libsofthsm2.so$' | head -1)
[ -n "$MODULE" ] && command -v pkcs11-tool >/dev/null || skip_all "softhsm2 or opensc not installed"
[ "${CSOD_TEST_DB:-sqlite}" = sqlite ] || skip_all "runs on one SQLite file"

SHARED=$T_DIR/shared
mkdir -p "$SHARED/tokens"
export SOFTHSM2_CONF=$SHARED/softhsm2.conf
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$SHARED/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label csodd --pin 4321 --so-pin 8765 >/dev/null
ok $? "one SoftHSM2 token in the shared directory"
echo 4321 >"$SHARED/pin"
chmod 400 "$SHARED/pin"
p11() { pkcs11-tool --module "$MODULE" --token-label csodd --login --pin 4321 "$@" 2>/dev/null; }
DB=$SHARED/csod.db
db() { sqlite3 "$DB" "$@"; }

add_users f1 f2
F1=csr-f1$$ F2=csr-f2$$
NODES="a b c"
node_conf() { # node_conf NAME: $T_DIR/NAME.conf, with DEVELOPERS_EXTRA as set
	mkdir -p "$T_DIR/state-$1"
	EXTRA="node = \"$1\"; node_lease = \"30s\"; max_request_files = 5000; state_dir = \"$T_DIR/state-$1\";
control_socket = \"$T_DIR/state-$1/csod.sock\";
database = { backend = \"sqlite\"; path = \"$DB\"; };"
	write_config
	sed -i "s|^keys = .*|keys = { backend = \"pkcs11\"; pkcs11 = { module = \"$MODULE\"; token = \"csodd\"; pin_file = \"$SHARED/pin\"; }; };|" "$CONF"
	cp "$CONF" "$T_DIR/$1.conf"
}
for n in $NODES; do node_conf "$n"; done

declare -A PID
start_node() {
	csodd --config "$T_DIR/$1.conf" --foreground >/dev/null 2>>"$T_DIR/csodd-$1.log" &
	PID[$1]=$!
}
kill_node() {
	kill -9 "${PID[$1]}" 2>/dev/null
	wait "${PID[$1]}" 2>/dev/null
	PID[$1]=
}
stop_nodes() {
	local n
	for n in $NODES; do
		[ -n "${PID[$n]:-}" ] && kill "${PID[$n]}" 2>/dev/null && wait "${PID[$n]}" 2>/dev/null
		PID[$n]=
	done
}
trap 'stop_nodes; for u in $T_USERS; do userdel "csr-$u$$" 2>/dev/null; done; cleanup' EXIT
bail() { stop_nodes; done_testing; exit 1; }
ctl() { csodctl --config "$T_DIR/a.conf" --offline "$@"; }
alive() { [ "$(ctl node list | grep -c ' alive ')" = "$1" ]; }

# The first node sets up the spool, the database and the CA (on the token).
start_node a
wait_for 60 test -f "$SPOOL/ca/ca.pem"
ok $? "node a makes the local CA"
start_node b
start_node c
wait_for 30 alive 3
ok $? "three live nodes on the one token"
[ "${PID[c]}" ] || bail

# drop NAME USER...: data/NAME and its hash line, dropped by USER (root for
# $DEV, who has no Unix account) with a rename, in the background.
mkdir -p "$T_DIR/data"
chmod 755 "$T_DIR/data"
drop() {
	local name=$1 user=$2
	head -c 4096 /dev/urandom >"$T_DIR/data/$name.bin"
	(cd "$T_DIR/data" && sha256sum "$name.bin" >"$name.sha256")
	chmod a+r "$T_DIR/data/$name.bin" "$T_DIR/data/$name.sha256"
	local in=$SPOOL/inbox/$user
	if [ "$user" = "$DEV" ]; then
		cp "$T_DIR/data/$name.sha256" "$in/.$name.tmp" && mv "$in/.$name.tmp" "$in/$name.sha256"
	else
		runuser -u "$user" -- sh -c "cp '$T_DIR/data/$name.sha256' '$in/.$name.tmp' && mv '$in/.$name.tmp' '$in/$name.sha256'"
	fi
}
DROPS= # "user:name" of every drop
drop_many() { # drop_many USER PREFIX N: N drops at once
	local i pids=
	for i in $(seq 1 "$3"); do
		drop "$2$i" "$1" &
		pids="$pids $!"
		DROPS="$DROPS $1:$2$i"
	done
	wait $pids
}

# A developer added by csodctl: every node sees the change at its next
# scan and would enroll them; the drops come at once, before a certificate.
ctl developer add f1@dithercons.com --name "F One" --user "$F1" --organization "$ORG" >/dev/null
ok $? "csodctl adds a fresh developer"
drop_many "$F1" f1- 6
# One added to every node's config, reloaded on all three at the same moment.
DEVELOPERS_EXTRA=",
  { user = \"$F2\"; email = \"f2@dithercons.com\"; name = \"F Two\"; organization = \"$ORG\"; }"
for n in $NODES; do node_conf "$n"; done
kill -HUP "${PID[a]}" "${PID[b]}" "${PID[c]}"
wait_for 20 test -d "$SPOOL/inbox/$F2"
drop_many "$F2" f2- 6

n_signed() { grep -lx signed "$SPOOL"/outbox/*/*/STATUS 2>/dev/null | wc -l; }
wait_for 120 sh -c "[ \$(grep -lx signed '$SPOOL'/outbox/*/*/STATUS 2>/dev/null | wc -l) -ge 12 ]"
ok $? "the fresh developers' 12 drops are signed"

# kill -9 the node that signs a folder of many hash files of the first
# developer, while it signs; ten small drops besides.
N_SLOW=600
mkdir -p "$T_DIR/data/slow"
for i in $(seq 1 $N_SLOW); do printf '%064x  s%d\n' "$i" "$i" >"$T_DIR/data/slow/s$i.sha256"; done
cp -r "$T_DIR/data/slow" "$SPOOL/inbox/$DEV/.slow.tmp" && mv "$SPOOL/inbox/$DEV/.slow.tmp" "$SPOOL/inbox/$DEV/slow"
for i in $(seq 1 10); do drop "d$i" "$DEV"; done
for i in $(seq 1 10); do DROPS="$DROPS $DEV:d$i"; done
wait_for 60 sh -c "d=\$(grep -l '\"drop\": \"slow\"' '$SPOOL/outbox/$DEV/'*/request.json 2>/dev/null); [ -n \"\$d\" ] && grep -qx in_progress \"\$(dirname \"\$d\")/STATUS\""
signer=$(ctl node list --json | /usr/bin/python3 -c 'import json,sys; print(next((n["node"] for n in json.load(sys.stdin) if n["signing"] > 0), ""))')
[ -n "$signer" ] && [ -n "${PID[$signer]:-}" ]
ok $? "node ${signer:-?} signs the folder"
[ -n "$signer" ] && [ -n "${PID[$signer]:-}" ] || bail
kill_node "$signer"
total=$(($(echo $DROPS | wc -w) + 1))
wait_for 120 sh -c "[ \$(grep -lx signed '$SPOOL'/outbox/*/*/STATUS 2>/dev/null | wc -l) -ge $total ]"
ok $? "the others sign all $total drops, also the folder node $signer held"
start_node "$signer"
wait_for 30 alive 3
ok $? "node $signer is back: three live nodes"
# One more drop of a fresh developer once it is back: it signs with the keys
# on the token as they are.
drop f1-last "$F1"
DROPS="$DROPS $F1:f1-last"
total=$((total + 1))
wait_for 60 sh -c "[ \$(grep -lx signed '$SPOOL'/outbox/*/*/STATUS 2>/dev/null | wc -l) -ge $total ]"
ok $? "a last drop is signed"
stop_nodes

# Every drop: one request, signed, its signature verified with the CA.
bad=0 dup=0
for d in $DROPS; do
	u=${d%%:*} name=${d#*:}
	dirs=$(grep -l "\"drop\": \"$name.sha256\"" "$SPOOL/outbox/$u/"*/request.json 2>/dev/null)
	[ "$(echo "$dirs" | grep -c .)" = 1 ] || { dup=$((dup + 1)); continue; }
	out=$(dirname "$dirs")
	grep -qx signed "$out/STATUS" && verify_p7s "$out/$name.sha256.p7s" "$T_DIR/data/$name.bin" 2>/dev/null ||
		{ bad=$((bad + 1)); echo "# $name ($u): $(cat "$out/STATUS")"; }
done
slow=$(dirname "$(grep -l '"drop": "slow"' "$SPOOL/outbox/$DEV/"*/request.json)")
is "$(ls "$slow"/*.p7s | wc -l)" "$N_SLOW" "the folder: all $N_SLOW signatures, each once"
bad=0
for f in "$slow"/*.p7s; do openssl cms -cmsout -inform DER -in "$f" -noout 2>/dev/null || bad=$((bad + 1)); done
is "$bad" 0 "every one parses (none half-written by the killed node)"
is "$dup" 0 "every drop became exactly one request"
is "$bad" 0 "every drop is signed and its signature verifies"
ctl audit list --json >"$T_DIR/audit.json"
twice=$(/usr/bin/python3 - "$T_DIR/audit.json" <<'PY'
import json, sys, collections
c = collections.Counter(r["object"] for r in json.load(open(sys.argv[1]))
                        if r["action"] == "request.state" and r["detail"].endswith("-> signed"))
print(len(c), sum(1 for v in c.values() if v != 1))
PY
)
is "$twice" "$total 0" "the audit records one signing per request, none twice"

# The keys: one certificate per developer, one key row per certificate and
# the CA, and on the token exactly those private keys, each once.
is "$(db "SELECT developer || ' ' || COUNT(*) FROM certificates WHERE is_ca = 0 GROUP BY developer ORDER BY developer" | tr '\n' ' ')" \
	"$F1 1 $F2 1 $DEV 1 " "one certificate per developer"
is "$(db "SELECT COUNT(*) FROM certificates WHERE is_ca = 1")" 1 "one CA"
is "$(db "SELECT COUNT(*) FROM keys")" 4 "four key rows: the CA's and one per developer"
is "$(db "SELECT COUNT(DISTINCT key_id) FROM certificates WHERE key_id IN (SELECT id FROM keys WHERE backend = 'pkcs11')")" 4 \
	"each certificate has its own key, on the token"
p11 --list-objects --type privkey >"$T_DIR/objects"
labels=$(grep -o 'label: *csod-key-[0-9]*' "$T_DIR/objects" | sed 's/label: *//' | sort)
is "$(echo "$labels" | grep -c .)" 4 "the token holds four private keys"
is "$(echo "$labels" | sort -u | grep -c .)" 4 "each label once"
is "$labels" "$(db "SELECT 'csod-key-' || id FROM keys" | sort)" "exactly the keys the database names"
# Each certificate is for the key on the token its row names.
mismatch=0
for row in $(db "SELECT id || ':' || key_id FROM certificates"); do
	cid=${row%%:*} kid=${row#*:}
	db "SELECT cert_pem FROM certificates WHERE id = $cid" >"$T_DIR/c.pem"
	p11 --read-object --type pubkey --label "csod-key-$kid" -o "$T_DIR/pub.der" >/dev/null
	[ "$(openssl pkey -pubin -inform DER -in "$T_DIR/pub.der" -outform DER | sha256sum)" = \
		"$(openssl x509 -in "$T_DIR/c.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)" ] ||
		mismatch=$((mismatch + 1))
done
is "$mismatch" 0 "every certificate (the CA's too) holds its token key's public key"
for n in $NODES; do
	check "node $n logged no token or key error" sh -c "! grep -Ei 'token|key [0-9]+|certificate order .* failed' '$T_DIR/csodd-$n.log'"
done
done_testing
