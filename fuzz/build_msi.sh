#!/bin/sh
# Builds the compound-file (MSI) fuzzer; with FUZZ_SECONDS=N runs it that long (fuzz/lib.sh).
set -eu
. "$(dirname "$0")/lib.sh"
fuzz_target msi 65536 "libcrypto" \
	signers/authenticode/cfb_read.c signers/authenticode/cfb_tree.c signers/authenticode/cfb_write.c signers/authenticode/msi_hash.c signers/common/fileio.c
