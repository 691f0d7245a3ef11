#!/bin/sh
# Builds the libFuzzer target for ZIP + manifest parsing and, with
# FUZZ_SECONDS=N, runs it that long over the seed corpus:
#   sh fuzz/build_zip.sh            -> build/fuzz/fuzz_zip
#   FUZZ_SECONDS=30 sh fuzz/build_zip.sh
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=build/fuzz
mkdir -p "$out" "$out/corpus-zip"
clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -I. \
	fuzz/fuzz_zip.c signers/java/zip_read.c signers/java/zip_unpack.c \
	signers/java/manifest.c \
	signers/java/bytebuf.c lib/error.c \
	-o "$out/fuzz_zip" $(pkg-config --libs libcrypto zlib libdeflate)
echo "built $out/fuzz_zip"
if [ "${FUZZ_SECONDS:-0}" -gt 0 ]; then
	# Quiet unless it finds something; new inputs go to the scratch corpus,
	# the seeds in git stay as they are.
	log="$out/fuzz_zip.log"
	"$out/fuzz_zip" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=1024 -max_len=65536 "$out/corpus-zip" fuzz/corpus/zip >"$log" 2>&1 ||
		{ tail -40 "$log"; exit 1; }
	tail -1 "$log"
fi
