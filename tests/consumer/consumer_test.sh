#!/bin/sh
# The consumer program must run, pick a kernel and agree between training and deployment.
set -eu
out=$("./consumer")
echo "$out"
echo "$out" | grep -q "^Chosen: " || { echo "no kernel was chosen" >&2; exit 1; }
echo "$out" | grep -q ": agree$" || { echo "train and eval disagree" >&2; exit 1; }
