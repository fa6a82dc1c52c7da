#!/bin/sh
# Two ranks of //trainer:train started the way torchrun starts them (RANK, WORLD_SIZE,
# MASTER_ADDR, MASTER_PORT) train together over Gloo on 127.0.0.1; rank 0 alone writes the run.
set -eu
train="$1"
out="$TEST_TMPDIR/ddp"
port=$((20000 + $$ % 20000))
for rank in 0 1; do
  MASTER_ADDR=127.0.0.1 MASTER_PORT=$port RANK=$rank WORLD_SIZE=2 \
    "$train" --model=mlp --dataset=synthetic --max_steps=12 --threads=1 --workers=0 \
    --output_dir="$out" >"$TEST_TMPDIR/rank$rank.log" 2>&1 &
  eval "pid$rank=\$!"
done
status=0
wait "$pid0" || status=1
wait "$pid1" || status=1
cat "$TEST_TMPDIR/rank0.log" "$TEST_TMPDIR/rank1.log"
[ "$status" = 0 ] || { echo "a rank failed" >&2; exit 1; }
grep -q "^deployed model test accuracy" "$TEST_TMPDIR/rank0.log" || { echo "rank 0 did not report" >&2; exit 1; }
if grep -q "^deployed model test accuracy" "$TEST_TMPDIR/rank1.log"; then
  echo "rank 1 reported too" >&2; exit 1
fi
[ -f "$out/deployed/manifest.json" ] || { echo "no deployed model" >&2; exit 1; }
grep -q '"step":12' "$out/metrics.jsonl" || { echo "metrics do not reach step 12" >&2; exit 1; }
echo "two ranks trained together"
