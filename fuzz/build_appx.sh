#!/bin/sh
# Builds the MSIX/APPX fuzzer; with FUZZ_SECONDS=N runs it that long (fuzz/lib.sh).
set -eu
. "$(dirname "$0")/lib.sh"
fuzz_target appx 65536 "libcrypto zlib libdeflate" \
	signers/authenticode/appx_xml.c signers/authenticode/appx_package.c \
	signers/authenticode/appx_blockmap.c \
	signers/java/zip_read.c signers/java/zip64.c signers/java/zip_unpack.c signers/java/bytebuf.c
