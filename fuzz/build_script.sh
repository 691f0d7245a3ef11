#!/bin/sh
# Builds the script signature block fuzzer; with FUZZ_SECONDS=N runs it that long (fuzz/lib.sh).
set -eu
. "$(dirname "$0")/lib.sh"
fuzz_target script 65536 "libcrypto" \
	signers/authenticode/script_format.c
