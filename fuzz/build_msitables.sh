#!/bin/sh
# Builds the MSI table (File, MsiFileHash) fuzzer of deep signing; with FUZZ_SECONDS=N runs it that long (fuzz/lib.sh).
set -eu
. "$(dirname "$0")/lib.sh"
fuzz_target msitables 65536 "libcrypto" \
	signers/deep/deep_msi_tables.c signers/authenticode/cfb_read.c signers/authenticode/cfb_tree.c signers/common/fileio.c
