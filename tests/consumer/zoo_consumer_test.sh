#!/bin/sh
# The zoo consumer must build a model by name, save, load and classify, and agree.
set -eu
out=$("./zoo_consumer")
echo "$out"
echo "$out" | grep -q "^saved and loaded LeNet-5: agree$" || { echo "loaded model disagrees" >&2; exit 1; }
