#!/bin/sh
# Builds the detached-signature fuzzer; with FUZZ_SECONDS=N runs it that long (fuzz/lib.sh).
set -eu
. "$(dirname "$0")/lib.sh"
fuzz_target detached 65536 "libcrypto" \
	signers/authenticode/detached.c
