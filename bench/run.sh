#!/bin/bash
# make bench: csod against the tools a user would pick instead, and against
# the machine's limits, on the same inputs in the same run. Results:
# bench/results/results.md and results.csv. Each part is its own script and
# can be run alone (bench/README.md).
set -u
here=$(cd "$(dirname "$0")" && pwd)
results=$here/results
rm -f "$results/results.md" "$results/results.csv"
{
	echo "# csod benchmark results"
	echo
	echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -srm);" \
		"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')."
	echo "Run: $(date -u +%FT%TZ), median of ${RUNS:-5} runs, peak RSS of one run."
} >"$results/results.md"
status=0
for part in "$here"/limits.sh "$here"/authenticode.sh "$here"/jar_apk.sh "$here"/daemon.sh "$here"/burst.sh; do
	[ -x "$part" ] || continue
	echo "== $(basename "$part")"
	if [ "$(basename "$part")" = jar_apk.sh ]; then
		# It prints its own table: keep it in the report as it is.
		{ echo; echo "## JAR and APK"; echo; echo '```'; } >>"$results/results.md"
		BIG=1 "$part" | tee -a "$results/results.md" || status=1
		echo '```' >>"$results/results.md"
	else
		"$part" || { echo "$(basename "$part") failed"; status=1; }
	fi
done
# The same burst on a cluster of three nodes on this machine (bench/burst.sh).
echo "== burst.sh, three nodes"
BENCH_NODES=3 "$here"/burst.sh || { echo "burst.sh (three nodes) failed"; status=1; }
cat "$results/results.md"
exit $status
