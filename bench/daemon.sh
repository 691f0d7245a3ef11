#!/bin/bash
# The daemon, measured from the outside as a build server sees it:
#  - for 1, 100, 1,000 and 10,000 watched inboxes (BENCH_SCALES): idle CPU
#    over 10 s, RSS, and drop-to-signed latency p50/p99 over BENCH_DROPS
#    drops made one at a time by rename (auto-approve);
#  - a burst of BENCH_DROPS drops at once: files/s against the machine's
#    RSA-3072 sign/s on all cores;
#  - the same latency and csodctl listings with BENCH_REQUESTS (10,000)
#    requests in the database;
#  - a 1 GB PE dropped, taken in and signed, against reading it once and
#    against hashing it once (BENCH_BIG=0 skips it).
. "$(dirname "$0")/lib.sh"
N=${BENCH_DROPS:-1000}
SCALES=${BENCH_SCALES:-"1 100 1000 10000"}
REQUESTS=${BENCH_REQUESTS:-10000}
cd "$WORK"
spool=$WORK/spool
conf=$WORK/csod.conf
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null' EXIT

write_conf() { # write_conf INBOXES AUTO_ENROLL
	{
		cat <<CONF
spool = "$spool";
settle_ms = 500;
poll_interval = 5;
auto_approve = true;
max_file_size = "2G";
mail = { transport = "none"; };
ca = { backend = "local"; auto_enroll = $2; key_bits = 3072; };
organizations = ( { name = "Bench"; } );
admins = ( { user = "root"; email = "root@example.com"; role = "MRAO"; } );
developers = (
  { user = "bench"; email = "bench@example.com"; organization = "Bench"; }
CONF
		for i in $(seq 2 "$1"); do
			echo "  , { user = \"d$i\"; email = \"d$i@example.com\"; organization = \"Bench\"; }"
		done
		echo ");"
	} >"$conf"
}

start() { # start INBOXES
	"$BIN/csodd" --config "$conf" --foreground 2>>"$WORK/csodd.log" &
	pid=$!
	local last=bench
	[ "$1" -gt 1 ] && last=d$1
	for _ in $(seq 1 1200); do
		[ -f "$spool/ca/ca.pem" ] && [ -d "$spool/inbox/$last" ] && return 0
		sleep 0.1
	done
	echo "bench: csodd did not come up" >&2
	tail "$WORK/csodd.log" >&2
	exit 1
}

stop() {
	kill "$pid"
	wait "$pid" 2>/dev/null
	pid=
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

# Only `bench` gets a certificate: enrolling 10,000 developers is not what
# is measured here.
write_conf 1 true
start 1
stop
rsa=$(openssl speed -seconds 2 -multi "$(nproc)" rsa3072 2>/dev/null | awk '/^rsa 3072/ {print $6}')

{
	echo
	echo "## Daemon"
	echo
	echo "Drops by rename into one inbox, auto-approve, digest files signed as CMS"
	echo "(RSA-3072); $N drops per latency run."
	echo
	echo "| watched inboxes | idle CPU (10 s) | RSS | drop-to-signed p50 | p99 |"
	echo "|---|---|---|---|---|"
} >>"$RESULTS/results.md"
for scale in $SCALES; do
	write_conf "$scale" false
	start "$scale"
	sleep 2
	t0=$(cpu_ticks)
	sleep 10
	t1=$(cpu_ticks)
	idle=$(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz / 10 * 100 }')
	rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
	out=$(/usr/bin/python3 "$BENCH_TOP/bench/daemon_latency.py" "$spool" bench "$N" latency)
	p50=$(echo "$out" | awk '/p50/ {print $2}')
	p99=$(echo "$out" | awk '/p99/ {print $2}')
	echo "daemon,latency-$scale-inboxes,p50_ms,$p50,$rss" >>"$CSV"
	echo "daemon,latency-$scale-inboxes,p99_ms,$p99,$rss" >>"$CSV"
	echo "daemon,idle-$scale-inboxes,cpu_percent,$idle,$rss" >>"$CSV"
	echo "| $scale | $idle % of a core | $((rss / 1024)) MB | $p50 ms | $p99 ms |" >>"$RESULTS/results.md"
	last_scale=$scale
	[ "$scale" = "${SCALES##* }" ] || stop
done
echo "| target | < 1 % (10,000 inboxes) | | ≤ 50 ms | ≤ 200 ms |" >>"$RESULTS/results.md"

# A burst: every drop at once, into the largest configuration.
burst=$(/usr/bin/python3 "$BENCH_TOP/bench/daemon_latency.py" "$spool" bench "$N" burst | awk '/burst/ {print $2}')
half=$(awk -v r="$rsa" 'BEGIN { printf "%.0f", r / 2 }')
echo "daemon,burst,files_per_s,$burst," >>"$CSV"
{
	echo
	echo "| burst of $N drops at once | $burst files/s | target ≥ 50% of RSA-3072 sign/s on $(nproc) cores = $half/s |"
	echo "|---|---|---|"
} >>"$RESULTS/results.md"
stop

# Many requests in the database: copies of the real rows (files too) under
# new ids, older than the real ones, so that listings have $REQUESTS rows.
have=$(sqlite3 "$spool/state/csod.db" "SELECT count(*) FROM requests")
if [ "$have" -lt "$REQUESTS" ]; then
	sqlite3 "$spool/state/csod.db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $REQUESTS - $have)
INSERT INTO requests(id, developer, organization, department, version, service, digests,
  options, state, created, updated, approved, approver, message, error, signed, expires,
  certificate_id, drop_name, published)
SELECT printf('20000101-%06d-bnch', n.i), r.developer, r.organization, r.department,
  r.version, r.service, r.digests, r.options, r.state, r.created - 86400 - n.i,
  r.updated - 86400 - n.i, r.approved, r.approver, r.message, r.error, r.signed, r.expires,
  r.certificate_id, r.drop_name, r.published
FROM n, (SELECT * FROM requests WHERE state = 'signed' LIMIT 1) r;
INSERT INTO files(request_id, idx, name, size, md5, sha1, sha256, engine, output)
SELECT q.id, 0, f.name, f.size, f.md5, f.sha1, f.sha256, f.engine, f.output
FROM requests q, (SELECT * FROM files LIMIT 1) f WHERE q.id LIKE '20000101-%-bnch';
SQL
fi
total=$(sqlite3 "$spool/state/csod.db" "SELECT count(*) FROM requests")
start "$last_scale"
out=$(/usr/bin/python3 "$BENCH_TOP/bench/daemon_latency.py" "$spool" bench 200 latency)
p50=$(echo "$out" | awk '/p50/ {print $2}')
p99=$(echo "$out" | awk '/p99/ {print $2}')
# csodctl reads the configuration first: with 10,000 developers in it that
# alone takes ~0.2 s (libconfig), so the listings are timed with a config
# of one developer on the same database, and the parse on its own.
cp "$conf" "$WORK/big.conf"
write_conf 1 false
cp "$conf" "$WORK/small.conf"
cp "$WORK/big.conf" "$conf"
ctl_time() { # seconds for one csodctl command, median of 5
	local c="$WORK/small.conf"
	[ "$1" = --big ] && c=$conf && shift
	for _ in 1 2 3 4 5; do
		t0=$EPOCHREALTIME
		"$BIN/csodctl" --config "$c" "$@" >/dev/null || echo "bench: csodctl $* failed" >&2
		t1=$EPOCHREALTIME
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
	done | sort -g | sed -n 3p
}
some=$(sqlite3 "$spool/state/csod.db" "SELECT id FROM requests ORDER BY id DESC LIMIT 1")
list_all=$(ctl_time request list)
list_json=$(ctl_time --json request list)
list_state=$(ctl_time request list --state created)
list_since=$(ctl_time request list --since "$(date -u +%F)")
show=$(ctl_time request show "$some")
report=$(ctl_time report)
parse=$(ctl_time --big auto-approve status)
{
	echo
	echo "With $total requests in the database ($last_scale inboxes watched):"
	echo
	echo "| measure | value |"
	echo "|---|---|"
	echo "| drop-to-signed p50 / p99 (200 drops) | $p50 ms / $p99 ms |"
	echo "| csodctl request list (all $total rows, table) | ${list_all}s |"
	echo "| csodctl request list --json | ${list_json}s |"
	echo "| csodctl request list --state created (index) | ${list_state}s |"
	echo "| csodctl request list --since today (index) | ${list_since}s |"
	echo "| csodctl request show ID | ${show}s |"
	echo "| csodctl report | ${report}s |"
	echo "| csodctl with the $last_scale-developer config (parsing it) | ${parse}s |"
} >>"$RESULTS/results.md"
echo "daemon,db-$total,p50_ms,$p50," >>"$CSV"
echo "daemon,db-$total,list_s,$list_all," >>"$CSV"

if [ "${BENCH_BIG:-1}" != 0 ]; then
	# A 1 GB PE: a small program with 1 GB of payload after its last
	# section. Intake copies it while computing MD5, SHA-1 and SHA-256
	# (what approvers see), then it is signed and self-checked.
	printf 'int main(void) { return 0; }\n' >tiny.c
	x86_64-w64-mingw32-gcc -O1 -o tiny.exe tiny.c
	{ cat tiny.exe; head -c 1073741824 /dev/urandom; } >big.exe
	sync
	read_once=$( { /usr/bin/time -f '%e' cat big.exe >/dev/null; } 2>&1 | tail -1)
	# The disk's limit: csodd writes the file durably twice (the store copy
	# that is approved, then the signed output).
	write_once=$( { /usr/bin/time -f '%e' dd if=big.exe of=dd.out bs=1M conv=fsync status=none; } 2>&1 | tail -1)
	rm -f dd.out
	hash_once=$( { /usr/bin/time -f '%e' openssl dgst -sha256 big.exe >/dev/null; } 2>&1 | tail -1)
	out=$(/usr/bin/python3 "$BENCH_TOP/bench/daemon_latency.py" "$spool" bench 1 file "$WORK/big.exe")
	big=$(echo "$out" | awk '/file_s/ {print $2}')
	rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
	echo "daemon,intake-1GB,seconds,$big,$rss" >>"$CSV"
	{
		echo
		echo "| 1 GB PE: drop to signed | reading it once (cat) | hashing it once (SHA-256) | writing it twice, fsynced (dd) | csodd peak RSS |"
		echo "|---|---|---|---|---|"
		two=$(awk -v w="$write_once" 'BEGIN { printf "%.2f", 2 * w }')
		echo "| ${big}s | ${read_once}s ($(ratio "$big" "$read_once")×) | ${hash_once}s ($(ratio "$big" "$hash_once")×) | ${two}s ($(ratio "$big" "$two")×) | $((rss / 1024)) MB |"
	} >>"$RESULTS/results.md"
	rm -f big.exe
fi
stop
