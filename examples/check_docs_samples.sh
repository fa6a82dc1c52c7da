#!/bin/sh
# Fails unless every code block in the given Markdown files that follows a marker line
#   <!-- example: examples/FILE -->
# appears verbatim, as consecutive whole lines, in examples/FILE, so that documentation can
# only show code that builds and is tested here. Also fails on a marker that is not followed
# by a code fence, on a marker naming a missing file, and when no file has a marker at all.
# Usage: check_docs_samples.sh DOC.md...   (run from the workspace root, as Bazel tests are)
set -eu
status=0
blocks=0
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
for doc in "$@"; do
  # Splits doc into block files: tmp/block.N holds the lines, tmp/block.N.src the example path.
  rm -f "$tmp"/block.*
  awk -v dir="$tmp" -v doc="$doc" '
    /^<!-- example: [^ ]+ -->$/ { src = $3; want_fence = 1; next }
    want_fence {
      want_fence = 0
      if ($0 !~ /^```/) { printf "%s:%d: marker for %s not followed by a code fence\n", doc, NR, src > "/dev/stderr"; bad = 1; next }
      n++; out = dir "/block." n; print src > (out ".src"); close(out ".src"); printf "" > out; inside = 1; next
    }
    inside && /^```/ { inside = 0; close(out); next }
    inside { print > out }
    END { exit bad }
  ' "$doc" || status=1
  found=0
  for src_file in "$tmp"/block.*.src; do
    [ -e "$src_file" ] || continue
    found=$((found + 1))
    block="${src_file%.src}"
    src=$(cat "$src_file")
    if [ ! -f "$src" ]; then
      echo "$doc: sample names $src, which does not exist" >&2
      status=1
      continue
    fi
    # Is the block a run of consecutive whole lines of $src?
    if ! awk -v blockfile="$block" '
      BEGIN { while ((getline line < blockfile) > 0) want[++n] = line }
      { have[++m] = $0 }
      END {
        if (n == 0) exit 1
        for (start = 1; start + n - 1 <= m; start++) {
          ok = 1
          for (i = 1; i <= n; i++) if (have[start + i - 1] != want[i]) { ok = 0; break }
          if (ok) exit 0
        }
        exit 1
      }' "$src"; then
      echo "$doc: a sample block marked as $src differs from that file; copy the file's lines" >&2
      status=1
    fi
  done
  blocks=$((blocks + found))
done
if [ "$blocks" = 0 ]; then
  echo "check_docs_samples.sh: no '<!-- example: ... -->' sample in $*" >&2
  status=1
fi
[ "$status" = 0 ] && echo "check_docs_samples.sh: $blocks sample blocks match their examples/ files"
exit "$status"
