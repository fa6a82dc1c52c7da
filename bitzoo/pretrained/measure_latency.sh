#!/bin/bash
# Measures the CPU latency of every shipped model (deployed and float32 twin, batch 1 and 32)
# and republishes each card with it. From the repository root, once every entry's train.sh has
# run (their run directories under $RUNS, default runs/).
set -euo pipefail
runs="${RUNS:-runs}"
bazel build -c opt //bitzoo/pretrained:pretrained_latency_benchmark //bitzoo/pretrained:publish
latency="$runs/latency.json"
bazel-bin/bitzoo/pretrained/pretrained_latency_benchmark --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_out="$latency" --benchmark_out_format=json
for dir in bitzoo/pretrained/*/; do
  name="$(basename "$dir")"
  bazel-bin/bitzoo/pretrained/publish --name="$name" --out="${dir%/}" --latency="$latency" \
    --ternary_run="$runs/$name-ternary" --twin_run="$runs/$name-float32"
done
