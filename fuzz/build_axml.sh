#!/bin/sh
# Builds the binary AndroidManifest.xml fuzzer; with FUZZ_SECONDS=N runs it
# that long (fuzz/lib.sh). Seeds: manifests compiled by aapt (UTF-16 string
# pools, as aapt writes them) and one rewritten with a UTF-8 pool.
set -eu
. "$(dirname "$0")/lib.sh"
fuzz_target axml 16384 libcrypto signers/android/axml.c
