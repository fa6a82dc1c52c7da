#!/bin/sh
# The zoo consumer must build a model by name, save, load and classify, and agree, and load
# the shipped pretrained LeNet-5 by name.
set -eu
out=$("./zoo_consumer")
echo "$out"
echo "$out" | grep -q "^saved and loaded LeNet-5: agree$" || { echo "loaded model disagrees" >&2; exit 1; }
echo "$out" | grep -q "^pretrained lenet5-fmnist: top-1 " || { echo "no pretrained model" >&2; exit 1; }
