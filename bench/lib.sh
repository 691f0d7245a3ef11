# Shared by the bench scripts: timing (median of N runs), peak RSS, and a
# results table written as markdown and CSV under bench/results/.
set -u
: "${RUNS:=5}"
BENCH_TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CSOD_BIN:-$BENCH_TOP/build/bin}
RESULTS=$BENCH_TOP/bench/results
WORK=${BENCH_WORK:-$(mktemp -d /tmp/csod-bench.XXXXXX)}
mkdir -p "$RESULTS"
CSV=$RESULTS/results.csv
[ -f "$CSV" ] || echo "group,case,tool,median_s,peak_rss_kb" >"$CSV"

# measure GROUP CASE TOOL CMD...: median wall seconds over $RUNS runs and the
# peak RSS of the last run; prints "median rss" and appends to the CSV.
measure() {
	local group=$1 case=$2 tool=$3
	shift 3
	local times=() i t rss
	for i in $(seq 1 "$RUNS"); do
		# The output of the last run, removed untimed: osslsigncode refuses
		# to overwrite, and a failed run must never pass for a fast one.
		[ -n "${MEASURE_OUT:-}" ] && rm -f "$MEASURE_OUT"
		# Wall time from bash's microsecond clock (time's %e has 10 ms steps).
		local t0=$EPOCHREALTIME
		if ! /usr/bin/time -f '%M' -o "$WORK/time.out" "$@" >"$WORK/measure.out" 2>&1; then
			echo "bench: $tool failed on $case: $*" >&2
			tail -5 "$WORK/measure.out" >&2
			exit 1
		fi
		local t1=$EPOCHREALTIME
		times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')")
		rss=$(tail -1 "$WORK/time.out")
	done
	local median
	median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	echo "$group,$case,$tool,$median,$rss" >>"$CSV"
	echo "$median $rss"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "n/a"; else printf "%.2f", a / b }'; }

# row GROUP CASE OURS_MEDIAN OURS_RSS PEER PEER_MEDIAN PEER_RSS TARGET
row() {
	printf '| %s | %s | %ss | %s MB | %s | %ss | %s MB | %s× | %s |\n' "$1" "$2" "$3" \
		"$(($4 / 1024))" "$5" "$6" "$(($7 / 1024))" "$(ratio "$3" "$6")" "$8" >>"$RESULTS/results.md"
}

table_header() {
	{
		echo
		echo "## $1"
		echo
		echo "| group | case | csod | csod RSS | peer | peer time | peer RSS | csod/peer | target |"
		echo "|---|---|---|---|---|---|---|---|---|"
	} >>"$RESULTS/results.md"
}
