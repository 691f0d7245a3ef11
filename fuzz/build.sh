#!/bin/sh
# make fuzz: builds every libFuzzer target (fuzz/build_*.sh). With
# FUZZ_SECONDS=N each runs that long on its committed seed corpus (make check
# does so briefly); a crash fails the run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
for b in "$here"/build_*.sh; do
	sh "$b"
done
