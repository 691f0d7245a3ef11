#!/bin/bash
# The three programs are built and say who they are.
. "$(dirname "$0")/lib.sh"
for b in csodd csodctl csod-sign; do
	test -x "$CSOD_BIN/$b"
	ok $? "$b is built"
done
done_testing
