#!/bin/sh
# Builds the CAB parser fuzzer; with FUZZ_SECONDS=N runs it that long (fuzz/lib.sh).
set -eu
. "$(dirname "$0")/lib.sh"
fuzz_target cab 8192 "libcrypto" \
	signers/authenticode/cab_format.c
