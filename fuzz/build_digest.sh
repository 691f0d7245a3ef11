#!/bin/sh
# Builds the digest-file parser fuzzer; with FUZZ_SECONDS=N runs it that long (fuzz/lib.sh).
set -eu
. "$(dirname "$0")/lib.sh"
fuzz_target digest 8192 "libcrypto" \
	signers/hash/digest_parse.c lib/text.c
