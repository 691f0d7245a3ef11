#!/bin/bash
# The daemon: drop-to-signed latency (p50/p99 over N small drops), burst
# throughput against the machine's RSA-3072 sign/s, idle CPU with many
# watched inboxes, and listing speed with many requests in the database.
. "$(dirname "$0")/lib.sh"
N=${BENCH_DROPS:-1000}
INBOXES=${BENCH_INBOXES:-10000}
cd "$WORK"
spool=$WORK/spool
conf=$WORK/csod.conf
devs=""
for i in $(seq 1 "$INBOXES"); do
	devs="$devs, { user = \"d$i\"; email = \"d$i@example.com\"; organization = \"Bench\"; }"
done
write_conf() { # write_conf AUTO_ENROLL EXTRA_DEVELOPERS
	cat >"$conf" <<CONF
spool = "$spool";
settle_ms = 500;
poll_interval = 5;
auto_approve = true;
mail = { transport = "none"; };
ca = { backend = "local"; auto_enroll = $1; key_bits = 3072; };
organizations = ( { name = "Bench"; } );
developers = ( { user = "bench"; email = "bench@example.com"; organization = "Bench"; } $2 );
admins = ( { user = "root"; email = "root@example.com"; role = "MRAO"; } );
CONF
}
# First only `bench`, to enroll its certificate; then every inbox, without
# enrolling thousands of developers the benchmark does not need.
write_conf true ""
"$BIN/csodd" --config "$conf" --foreground 2>"$WORK/csodd.log" &
pid=$!
for _ in $(seq 1 300); do [ -f "$spool/ca/ca.pem" ] && [ -d "$spool/inbox/bench" ] && break; sleep 0.2; done
sleep 1
kill $pid
wait $pid
write_conf false "$devs"
"$BIN/csodd" --config "$conf" --foreground 2>>"$WORK/csodd.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 1 600); do [ -d "$spool/inbox/d$INBOXES" ] && break; sleep 0.2; done

# Idle: CPU over 10 s with every inbox watched.
sleep 2
t0=$(awk '{print $14 + $15}' /proc/$pid/stat)
sleep 10
t1=$(awk '{print $14 + $15}' /proc/$pid/stat)
idle=$(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz / 10 * 100 }')
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
out=$(/usr/bin/python3 "$BENCH_TOP/bench/daemon_latency.py" "$spool" bench "$N")
p50=$(echo "$out" | awk '/p50/ {print $2}')
p99=$(echo "$out" | awk '/p99/ {print $2}')
burst=$(echo "$out" | awk '/burst/ {print $2}')
rsa=$(openssl speed -seconds 2 -multi "$(nproc)" rsa3072 2>/dev/null | awk '/^rsa 3072/ {print $6}')
list=$( { /usr/bin/time -f '%e' "$BIN/csodctl" --config "$conf" request list >/dev/null; } 2>&1 | tail -1)
{
	echo
	echo "## Daemon ($INBOXES watched inboxes, $N drops)"
	echo
	echo "| measure | value | target |"
	echo "|---|---|---|"
	echo "| idle CPU, $INBOXES inboxes watched | $idle % of a core | < 1 % |"
	echo "| RSS with $INBOXES inboxes | $((rss / 1024)) MB | |"
	echo "| drop-to-signed p50 | $p50 ms | ≤ 50 ms |"
	echo "| drop-to-signed p99 | $p99 ms | ≤ 200 ms |"
	echo "| burst of $N drops | $burst files/s | ≥ 50% of RSA-3072 sign/s ($rsa/s on $(nproc) cores) |"
	echo "| csodctl request list, $((2 * N)) requests | ${list}s | fast (indexes) |"
} >>"$RESULTS/results.md"
