#!/bin/bash
# The machine's limits: hashing speed and signatures per second.
. "$(dirname "$0")/lib.sh"
{
	echo
	echo "## Machine limits"
	echo
	echo '```'
	openssl speed -seconds 2 -evp sha256 2>/dev/null | tail -2
	openssl speed -seconds 2 rsa3072 2>/dev/null | tail -2
	openssl speed -seconds 2 ecdsap256 2>/dev/null | tail -2
	echo '```'
} >>"$RESULTS/results.md"
