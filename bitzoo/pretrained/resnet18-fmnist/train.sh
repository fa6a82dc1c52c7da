#!/bin/bash
# Trains resnet18-fmnist (ternary) and its float32 twin with recipe.json, then publishes the entry
# (measure_latency.sh adds the latency table to its card).
# From the repository root, after `bazel build //trainer:train //bitzoo/pretrained:publish`:
#   bash bitzoo/pretrained/resnet18-fmnist/train.sh        # run directories go under $RUNS (runs/)
set -euo pipefail
runs="${RUNS:-runs}"
for precision in ternary float32; do
  bazel-bin/trainer/train --model=resnet18 --config=bitzoo/pretrained/resnet18-fmnist/recipe.json \
    --precision="$precision" --threads=1 --output_dir="$runs/resnet18-fmnist-$precision"
done
bazel-bin/bitzoo/pretrained/publish --name=resnet18-fmnist --out=bitzoo/pretrained/resnet18-fmnist \
  --ternary_run="$runs/resnet18-fmnist-ternary" --twin_run="$runs/resnet18-fmnist-float32"
