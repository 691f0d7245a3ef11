#!/bin/bash
# The three programs are built and say who they are.
. "$(dirname "$0")/lib.sh"
version=$(cat "$CSOD_TOP/VERSION")
for b in csodd csodctl csod-sign; do
	test -x "$CSOD_BIN/$b"
	ok $? "$b is built"
	is "$(cd "$T_DIR" && "$b" --version 2>&1; echo "rc=$?")" "$b $version
rc=0" "$b --version says '$b $version' (VERSION), without a config"
done
done_testing
