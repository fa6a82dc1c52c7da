#!/bin/sh
# Runs the trainer with the flags of the quickstart's command (examples/quickstart_train.sh,
# quoted in docs/getting_started/quickstart.md), writing into the test's directory, and
# checks that the run trained, evaluated and deployed a model.
set -eu
train="$1"
command_file="$2"
flags=$(sed -n 's|^bazel run //trainer:train -- ||p' "$command_file" | sed 's|--output_dir=[^ ]*||')
[ -n "$flags" ] || { echo "no 'bazel run //trainer:train -- ...' line in $command_file" >&2; exit 1; }
out="$TEST_TMPDIR/run"
# shellcheck disable=SC2086  # the flags are words
"$train" $flags --output_dir="$out" --workers=0 >"$TEST_TMPDIR/train.log" 2>&1 ||
  { cat "$TEST_TMPDIR/train.log"; exit 1; }
tail -n 20 "$TEST_TMPDIR/train.log"
grep -q "^deployed model test accuracy" "$TEST_TMPDIR/train.log" || { echo "no test accuracy" >&2; exit 1; }
for f in metrics.jsonl report.html model/manifest.json deployed/manifest.json; do
  [ -f "$out/$f" ] || { echo "the run wrote no $f" >&2; exit 1; }
done
