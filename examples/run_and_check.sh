#!/bin/sh
# Runs an example binary and fails unless every expected line (an extended regex anchored at
# the line's start) appears in its output. Usage: run_and_check.sh BINARY REGEX...
set -eu
# Absolute, then run from the test's scratch directory: examples write files where they run.
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
shift
cd "${TEST_TMPDIR:-.}"
# from_pretrained copies verified weights into the cache; keep it inside the test's sandbox.
export BITLAB_CACHE="${TEST_TMPDIR:-/tmp}/bitlab-cache"
out=$("$binary")
echo "$out"
for expected in "$@"; do
  echo "$out" | grep -qE "^$expected" || { echo "missing output line: $expected" >&2; exit 1; }
done
