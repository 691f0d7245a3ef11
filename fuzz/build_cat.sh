#!/bin/sh
# Builds the security catalog parser fuzzer; with FUZZ_SECONDS=N runs it that long (fuzz/lib.sh).
set -eu
. "$(dirname "$0")/lib.sh"
fuzz_target cat 16384 "libcrypto" \
	signers/authenticode/cat_format.c
