#!/bin/bash
# make demo's script: on an empty directory it creates everything, signs the
# sample end to end and prints the command that verifies it.
. "$(dirname "$0")/lib.sh"
# CSOD_RUN_BIN: the valgrind wrappers under CSOD_VALGRIND, whose RSA-3072
# keys (demo.conf) take longer than the other tests' 2048-bit ones.
out=$(CSOD_DEMO_ONESHOT=1 CSOD_DEMO_DIR="$T_DIR/demo" CSOD_BIN="$CSOD_RUN_BIN" \
	CSOD_DEMO_SLOWDOWN=$((T_SLOWDOWN * 3)) sh "$CSOD_TOP/scripts/demo.sh" 2>&1)
rc=$?
is "$rc" 0 "the demo runs to the end"
[ "$rc" = 0 ] || echo "$out" | sed 's/^/#   /'
like "$out" "request [0-9-]+[a-z0-9]{4}: signed" "the sample is signed"
like "$out" "openssl cms -verify" "the verify command is printed"
like "$out" "Verification successful|CMS Verification successful" "and it succeeds"
check "the master key was created 0400" test "$(stat -c %a "$T_DIR/demo/spool/state/master.key")" = 400
done_testing
