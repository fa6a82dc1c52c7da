#!/bin/bash
# Trains mlp-fmnist (ternary) and its float32 twin with recipe.json, then publishes the entry
# (measure_latency.sh adds the latency table to its card).
# From the repository root, after `bazel build //trainer:train //bitzoo/pretrained:publish`:
#   bash bitzoo/pretrained/mlp-fmnist/train.sh        # run directories go under $RUNS (runs/)
set -euo pipefail
runs="${RUNS:-runs}"
for precision in ternary float32; do
  bazel-bin/trainer/train --model=mlp --config=bitzoo/pretrained/mlp-fmnist/recipe.json \
    --precision="$precision" --threads=1 --output_dir="$runs/mlp-fmnist-$precision"
done
bazel-bin/bitzoo/pretrained/publish --name=mlp-fmnist --out=bitzoo/pretrained/mlp-fmnist \
  --ternary_run="$runs/mlp-fmnist-ternary" --twin_run="$runs/mlp-fmnist-float32"
