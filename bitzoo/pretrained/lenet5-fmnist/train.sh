#!/bin/bash
# Trains lenet5-fmnist (ternary) and its float32 twin with recipe.json, then publishes the entry
# (measure_latency.sh adds the latency table to its card).
# From the repository root, after `bazel build //trainer:train //bitzoo/pretrained:publish`:
#   bash bitzoo/pretrained/lenet5-fmnist/train.sh        # run directories go under $RUNS (runs/)
set -euo pipefail
runs="${RUNS:-runs}"
for precision in ternary float32; do
  bazel-bin/trainer/train --model=lenet5 --config=bitzoo/pretrained/lenet5-fmnist/recipe.json \
    --precision="$precision" --threads=1 --output_dir="$runs/lenet5-fmnist-$precision"
done
bazel-bin/bitzoo/pretrained/publish --name=lenet5-fmnist --out=bitzoo/pretrained/lenet5-fmnist \
  --ternary_run="$runs/lenet5-fmnist-ternary" --twin_run="$runs/lenet5-fmnist-float32"
