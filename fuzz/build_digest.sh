#!/bin/sh
# Builds the digest-parser fuzzer; with FUZZ_SECONDS=N runs it that long.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=build/fuzz
mkdir -p "$out" "$out/corpus-digest"
clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -I. fuzz/fuzz_digest.c signers/hash/digest_parse.c lib/error.c \
	-o "$out/fuzz_digest" $(pkg-config --libs libcrypto)
echo "built $out/fuzz_digest"
if [ "${FUZZ_SECONDS:-0}" -gt 0 ]; then
	# Quiet unless it finds something; new inputs go to the scratch corpus,
	# the seeds in git stay as they are.
	log="$out/fuzz_digest.log"
	"$out/fuzz_digest" -max_total_time="$FUZZ_SECONDS" -max_len=8192 "$out/corpus-digest" fuzz/corpus/digest >"$log" 2>&1 ||
		{ tail -40 "$log"; exit 1; }
	tail -1 "$log"
fi
