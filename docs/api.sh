#!/bin/sh
# Generates BitLab's API reference with doxygen from docs/Doxyfile over the headers given as
# arguments (docs/BUILD's :api_headers), and fails on any doxygen warning (printing them).
#   bazel run //docs:api          writes docs/api/html/ in the workspace (git-ignored)
#   bazel test //docs:api_test    (api.sh --check HEADERS) writes into the test's scratch directory
set -eu
command -v doxygen >/dev/null 2>&1 ||
  { echo "api.sh: doxygen is not installed (tools/setup.sh installs it)" >&2; exit 1; }
check=
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
[ "$#" -gt 0 ] || { echo "api.sh: no headers given (docs/BUILD passes :api_headers)" >&2; exit 1; }
if [ -n "$check" ]; then
  # In the test's runfiles, which hold the Doxyfile and the headers at their workspace paths.
  out="${TEST_TMPDIR:-$(mktemp -d)}/api"
elif [ -n "${BUILD_WORKSPACE_DIRECTORY:-}" ]; then
  cd "$BUILD_WORKSPACE_DIRECTORY"
  out=docs/api
else
  cd "$(dirname "$0")/.."
  out=docs/api
fi
[ -f docs/Doxyfile ] || { echo "api.sh: no docs/Doxyfile in $(pwd)" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
warnings="$out/warnings.txt"
status=0
{ cat docs/Doxyfile; echo "INPUT = $*"; echo "OUTPUT_DIRECTORY = $out"; echo "WARN_LOGFILE = $warnings"; } |
  doxygen - || status=$?
if [ -s "$warnings" ]; then
  cat "$warnings" >&2
  echo "api.sh: doxygen warned $(grep -cE '(warning|error):' "$warnings") times; fix the comments above" >&2
  exit 1
fi
[ "$status" = 0 ] || { echo "api.sh: doxygen failed (exit $status)" >&2; exit 1; }
[ -f "$out/html/index.html" ] || { echo "api.sh: no $out/html/index.html" >&2; exit 1; }
case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac
echo "api.sh: API reference of $# headers in $out/html/index.html, no warnings"
