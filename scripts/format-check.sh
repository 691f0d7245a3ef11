#!/bin/sh
# Fails when clang-format (with the project's .clang-format) would change a file.
command -v clang-format >/dev/null || { echo "clang-format not installed; skipped"; exit 0; }
bad=$(git ls-files '*.c' '*.h' | xargs -r clang-format --dry-run 2>&1 | grep -c 'warning:')
if [ "$bad" -gt 0 ]; then
	git ls-files '*.c' '*.h' | xargs -r clang-format --dry-run 2>&1 | grep 'warning:' | head -20
	echo "clang-format: $bad places differ; run 'make format'"
	exit 1
fi
echo "clang-format: clean"
