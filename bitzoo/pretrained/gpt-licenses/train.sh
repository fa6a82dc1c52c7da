#!/bin/bash
# Trains gpt-licenses, a small BitNet-style GPT on the license texts Debian's base-files package
# ships in /usr/share/common-licenses (MPL-2.0 held out), and its float32 twin, with
# recipe.json; then publishes the entry (measure_latency.sh adds the latency table to its card).
# From the repository root, after `bazel build //trainer/lm:train_lm //bitzoo/pretrained:publish`:
#   bash bitzoo/pretrained/gpt-licenses/train.sh        # run directories go under $RUNS (runs/)
set -euo pipefail
runs="${RUNS:-runs}"
licenses=/usr/share/common-licenses
train_files="$(echo $licenses/{Apache-2.0,Artistic,BSD,CC0-1.0,GFDL-1.2,GFDL-1.3,GPL-1,GPL-2,GPL-3,LGPL-2,LGPL-2.1,LGPL-3,MPL-1.1} | tr ' ' ,)"
for precision in ternary float32; do
  bazel-bin/trainer/lm/train_lm --train_files="$train_files" --heldout_files=$licenses/MPL-2.0 \
    --architecture='{"hidden_size": 128, "num_layers": 4, "num_heads": 4, "context_length": 128}' \
    --config=bitzoo/pretrained/gpt-licenses/recipe.json --precision="$precision" --threads=1 \
    --output_dir="$runs/gpt-licenses-$precision"
done
bazel-bin/bitzoo/pretrained/publish --name=gpt-licenses --out=bitzoo/pretrained/gpt-licenses \
  --ternary_run="$runs/gpt-licenses-ternary" --twin_run="$runs/gpt-licenses-float32"
