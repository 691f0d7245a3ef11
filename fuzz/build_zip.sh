#!/bin/sh
# Builds the ZIP + manifest fuzzer; with FUZZ_SECONDS=N runs it that long (fuzz/lib.sh).
set -eu
. "$(dirname "$0")/lib.sh"
fuzz_target zip 65536 "libcrypto zlib libdeflate" \
	signers/java/zip_read.c signers/java/zip64.c signers/java/zip_unpack.c signers/java/manifest.c signers/java/bytebuf.c \
	signers/deep/deep_rules.c lib/text.c
