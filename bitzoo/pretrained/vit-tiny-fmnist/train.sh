#!/bin/bash
# Trains vit-tiny-fmnist (ternary) and its float32 twin with recipe.json, then publishes the entry
# (measure_latency.sh adds the latency table to its card).
# From the repository root, after `bazel build //trainer:train //bitzoo/pretrained:publish`:
#   bash bitzoo/pretrained/vit-tiny-fmnist/train.sh        # run directories go under $RUNS (runs/)
set -euo pipefail
runs="${RUNS:-runs}"
for precision in ternary float32; do
  bazel-bin/trainer/train --model=vit_tiny --config=bitzoo/pretrained/vit-tiny-fmnist/recipe.json \
    --architecture='{"patch_size": 7}' \
    --precision="$precision" --threads=1 --output_dir="$runs/vit-tiny-fmnist-$precision"
done
bazel-bin/bitzoo/pretrained/publish --name=vit-tiny-fmnist --out=bitzoo/pretrained/vit-tiny-fmnist \
  --ternary_run="$runs/vit-tiny-fmnist-ternary" --twin_run="$runs/vit-tiny-fmnist-float32"
