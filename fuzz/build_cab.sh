#!/bin/sh
# Builds the CAB parser fuzzer; with FUZZ_SECONDS=N runs it that long.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=build/fuzz
mkdir -p "$out" "$out/corpus-cab"
clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -I. fuzz/fuzz_cab.c signers/authenticode/cab_format.c lib/error.c \
	-o "$out/fuzz_cab" $(pkg-config --libs libcrypto)
echo "built $out/fuzz_cab"
if [ "${FUZZ_SECONDS:-0}" -gt 0 ]; then
	# Quiet unless it finds something; new inputs go to the scratch corpus,
	# the seeds in git stay as they are.
	log="$out/fuzz_cab.log"
	"$out/fuzz_cab" -max_total_time="$FUZZ_SECONDS" -max_len=8192 "$out/corpus-cab" fuzz/corpus/cab >"$log" 2>&1 ||
		{ tail -40 "$log"; exit 1; }
	tail -1 "$log"
fi
