#!/bin/sh
# Builds the PE header and certificate table fuzzer; with FUZZ_SECONDS=N runs it that long (fuzz/lib.sh).
set -eu
. "$(dirname "$0")/lib.sh"
fuzz_target pe 8192 "libcrypto" \
	signers/authenticode/pe_format.c signers/authenticode/pe_certs.c
