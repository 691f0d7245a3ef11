#!/bin/bash
# A burst of BENCH_BURST (1,000) hash drops at once into one inbox,
# auto-approved, signed (RSA-3072) by one csodd: requests per second from
# the first drop to the last STATUS reading "signed", next to the
# machine's RSA-3072 signatures per second on all its cores (`openssl speed
# -multi`), measured in the same run. Each request makes one signature, so
# the ratio is the share of the machine's signing rate the daemon reaches
# (target >= 0.5: the rest pays for intake, the self-check, publishing and
# the database).
. "$(dirname "$0")/lib.sh"
N=${BENCH_BURST:-1000}
mkdir -p "$WORK"
cd "$WORK"
spool=$WORK/spool
conf=$WORK/csod.conf
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null' EXIT
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
CONF
"$BIN/csodd" --config "$conf" --foreground 2>>"$WORK/csodd.log" &
pid=$!
for _ in $(seq 1 1200); do
	[ -f "$spool/ca/ca.pem" ] && [ -d "$spool/outbox/bench" ] && break
	sleep 0.1
done
[ -d "$spool/outbox/bench" ] || { echo "bench: csodd did not come up" >&2; tail "$WORK/csodd.log" >&2; exit 1; }
# One drop first: the developer's key and certificate are made on the
# first request, which is not what is measured.
/usr/bin/python3 "$BENCH_TOP/bench/daemon_latency.py" "$spool" bench 1 latency >/dev/null
cores=$(nproc)
rsa_before=$(openssl speed -seconds 3 -multi "$cores" rsa3072 2>/dev/null | awk '/^rsa 3072/ {print $6}')
t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
burst=$(/usr/bin/python3 "$BENCH_TOP/bench/daemon_latency.py" "$spool" bench "$N" burst | awk '/burst/ {print $2}')
t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
rsa_after=$(openssl speed -seconds 3 -multi "$cores" rsa3072 2>/dev/null | awk '/^rsa 3072/ {print $6}')
rsa=$(awk -v a="$rsa_before" -v b="$rsa_after" 'BEGIN { printf "%.0f", (a + b) / 2 }')
cpu_ms=$(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" -v n="$N" 'BEGIN { printf "%.2f", (b - a) * 1000 / hz / n }')
load=$(cut -d' ' -f1-3 /proc/loadavg)
stop_rc=0
kill "$pid" && wait "$pid" 2>/dev/null || stop_rc=$?
pid=
echo "daemon,burst-$N,requests_per_s,$burst," >>"$CSV"
echo "daemon,burst-$N,rsa3072_sign_per_s,$rsa," >>"$CSV"
echo "daemon,burst-$N,csodd_cpu_ms_per_request,$cpu_ms," >>"$CSV"
{
	echo
	echo "| burst of $N hash drops, one node | csodd CPU per request | RSA-3072 sign/s on $cores cores (openssl speed -multi $cores, before / after) | ratio (target ≥ 0.5) | load average |"
	echo "|---|---|---|---|---|"
	echo "| $burst requests/s | $cpu_ms ms | $rsa ($rsa_before / $rsa_after) | $(ratio "$burst" "$rsa") | $load |"
} >>"$RESULTS/results.md"
echo "burst $burst requests/s; csodd ${cpu_ms} ms CPU/request; RSA-3072 $rsa sign/s ($rsa_before / $rsa_after); ratio $(ratio "$burst" "$rsa"); load $load"
exit 0
