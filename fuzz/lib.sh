# Shared by fuzz/build_*.sh: builds one libFuzzer target and, with
# FUZZ_SECONDS=N, runs it that long on its committed seed corpus
# (fuzz/corpus/NAME). Quiet unless it finds something; new inputs go to a
# scratch corpus under build/fuzz, the seeds in git stay as they are.
#   fuzz_target NAME MAX_LEN "PKG-CONFIG LIBS" SOURCE...
fuzz_target() {
	name=$1 max_len=$2 libs=$3
	shift 3
	top=$(cd "$(dirname "$0")/.." && pwd)
	cd "$top"
	out=build/fuzz
	mkdir -p "$out" "$out/corpus-$name"
	# shellcheck disable=SC2046
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -I. "fuzz/fuzz_$name.c" "$@" lib/error.c \
		-o "$out/fuzz_$name" $(pkg-config --libs $libs)
	echo "built $out/fuzz_$name"
	[ "${FUZZ_SECONDS:-0}" -gt 0 ] || return 0
	log="$out/fuzz_$name.log"
	"$out/fuzz_$name" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=1024 -max_len="$max_len" \
		"$out/corpus-$name" "fuzz/corpus/$name" >"$log" 2>&1 ||
		{
			tail -40 "$log"
			exit 1
		}
	tail -1 "$log"
}
