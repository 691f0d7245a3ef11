#!/bin/sh
# Builds the compound-file (MSI) fuzzer; with FUZZ_SECONDS=N runs it that long.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=build/fuzz
mkdir -p "$out" "$out/corpus-msi"
clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -I. fuzz/fuzz_msi.c signers/authenticode/cfb_read.c \
	signers/authenticode/cfb_write.c signers/authenticode/msi_hash.c lib/error.c signers/common/fileio.c \
	-o "$out/fuzz_msi" $(pkg-config --libs libcrypto)
echo "built $out/fuzz_msi"
if [ "${FUZZ_SECONDS:-0}" -gt 0 ]; then
	# Quiet unless it finds something; new inputs go to the scratch corpus,
	# the seeds in git stay as they are.
	log="$out/fuzz_msi.log"
	"$out/fuzz_msi" -max_total_time="$FUZZ_SECONDS" -max_len=65536 "$out/corpus-msi" fuzz/corpus/msi >"$log" 2>&1 ||
		{ tail -40 "$log"; exit 1; }
	tail -1 "$log"
fi
