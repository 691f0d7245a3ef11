#!/bin/sh
# Builds the deep engine's cabinet reader/writer fuzzer; with FUZZ_SECONDS=N runs it that long (fuzz/lib.sh).
set -eu
. "$(dirname "$0")/lib.sh"
fuzz_target deepcab 16384 "libcrypto zlib" \
	signers/deep/deep_cab_read.c signers/deep/deep_cab_write.c signers/authenticode/cab_format.c \
	signers/common/fileio.c lib/text.c
