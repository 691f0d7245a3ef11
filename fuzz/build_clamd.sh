#!/bin/sh
# Builds the clamd reply and address parser fuzzer; with FUZZ_SECONDS=N runs it that long (fuzz/lib.sh).
set -eu
. "$(dirname "$0")/lib.sh"
fuzz_target clamd 1024 "libcrypto" \
	daemon/clamd.c lib/text.c watchers/watcher.c watchers/settle.c lib/log.c
