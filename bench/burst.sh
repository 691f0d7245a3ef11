#!/bin/bash
# A burst of BENCH_BURST (1,000) hash drops at once into one inbox,
# auto-approved, signed (RSA-3072) by BENCH_NODES (1) csodd nodes on one
# spool: requests per second from the first drop to the last STATUS reading
# "signed", next to the machine's RSA-3072 signatures per second on all its
# cores (`openssl speed -multi`), measured in the same run. Each request
# makes one signature, so the ratio is the share of the machine's signing
# rate the daemon reaches (target >= 0.5: the rest pays for intake, the
# self-check, publishing and the database). With several nodes (a cluster,
# docs/DESIGN.md "Cluster") they share the spool, one SQLite file and the
# master key on this machine: the figure is the coordination's cost, not
# more machines' worth of signing.
. "$(dirname "$0")/lib.sh"
N=${BENCH_BURST:-1000}
NODES=${BENCH_NODES:-1}
mkdir -p "$WORK"
cd "$WORK"
spool=$WORK/spool
conf=$WORK/csod.conf
pids=()
trap '[ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT
cluster=""
if [ "$NODES" -gt 1 ]; then
	head -c 32 /dev/urandom >"$WORK/master.key"
	chmod 600 "$WORK/master.key"
	cluster="database = { path = \"$WORK/csod.db\"; };
keys = { backend = \"database\"; master_key_file = \"$WORK/master.key\"; };"
fi
cat >"$conf" <<CONF
spool = "$spool";
settle_ms = 500;
poll_interval = 5;
auto_approve = true;
mail = { transport = "none"; };
ca = { backend = "local"; auto_enroll = true; key_bits = 3072; };
organizations = ( { name = "Bench"; } );
admins = ( { user = "root"; email = "root@example.com"; role = "MRAO"; } );
developers = ( { user = "bench"; email = "bench@example.com"; organization = "Bench"; } );
$cluster
CONF
start_node() { # start_node N: the only node, or node N of the cluster
	local c=$conf
	if [ "$NODES" -gt 1 ]; then
		c=$WORK/node$1.conf
		mkdir -p "$WORK/state$1"
		{ cat "$conf"; echo "node = \"n$1\"; state_dir = \"$WORK/state$1\"; control_socket = \"$WORK/state$1/csod.sock\";"; } >"$c"
	fi
	"$BIN/csodd" --config "$c" --foreground 2>>"$WORK/csodd$1.log" &
	pids+=($!)
}
start_node 1
for _ in $(seq 1 1200); do
	[ -f "$spool/ca/ca.pem" ] && [ -d "$spool/outbox/bench" ] && break
	sleep 0.1
done
[ -d "$spool/outbox/bench" ] || { echo "bench: csodd did not come up" >&2; tail "$WORK/csodd1.log" >&2; exit 1; }
# The others once the first has made the spool, the database and the CA.
for i in $(seq 2 "$NODES"); do start_node "$i"; done
# One drop first: the developer's key and certificate are made on the
# first request, which is not what is measured.
/usr/bin/python3 "$BENCH_TOP/bench/daemon_latency.py" "$spool" bench 1 latency >/dev/null
cores=$(nproc)
rsa_before=$(openssl speed -seconds 3 -multi "$cores" rsa3072 2>/dev/null | awk '/^rsa 3072/ {print $6}')
cpu_ticks() { local p t=0; for p in "${pids[@]}"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
t0=$(cpu_ticks)
burst=$(/usr/bin/python3 "$BENCH_TOP/bench/daemon_latency.py" "$spool" bench "$N" burst | awk '/burst/ {print $2}')
t1=$(cpu_ticks)
rsa_after=$(openssl speed -seconds 3 -multi "$cores" rsa3072 2>/dev/null | awk '/^rsa 3072/ {print $6}')
rsa=$(awk -v a="$rsa_before" -v b="$rsa_after" 'BEGIN { printf "%.0f", (a + b) / 2 }')
cpu_ms=$(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" -v n="$N" 'BEGIN { printf "%.2f", (b - a) * 1000 / hz / n }')
load=$(cut -d' ' -f1-3 /proc/loadavg)
kill "${pids[@]}" 2>/dev/null
wait 2>/dev/null
pids=()
what=burst-$N-nodes-$NODES
echo "daemon,$what,requests_per_s,$burst," >>"$CSV"
echo "daemon,$what,rsa3072_sign_per_s,$rsa," >>"$CSV"
echo "daemon,$what,csodd_cpu_ms_per_request,$cpu_ms," >>"$CSV"
{
	echo
	echo "| burst of $N hash drops, $NODES node(s) | csodd CPU per request (all nodes) | RSA-3072 sign/s on $cores cores (openssl speed -multi $cores, before / after) | ratio (target ≥ 0.5) | load average |"
	echo "|---|---|---|---|---|"
	echo "| $burst requests/s | $cpu_ms ms | $rsa ($rsa_before / $rsa_after) | $(ratio "$burst" "$rsa") | $load |"
} >>"$RESULTS/results.md"
echo "burst ($NODES node(s)) $burst requests/s; csodd ${cpu_ms} ms CPU/request; RSA-3072 $rsa sign/s ($rsa_before / $rsa_after); ratio $(ratio "$burst" "$rsa"); load $load"
exit 0
