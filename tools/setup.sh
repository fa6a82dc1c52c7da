#!/usr/bin/env bash
# Installs everything BitLab needs to build and test, from Debian's packages.
# Idempotent and non-interactive; run as root. A second run only checks.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap bazel-platforms
  libtorch-dev
  libabsl-dev
  libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev
  libgtest-dev libbenchmark-dev
  libopenblas0-pthread
  libgloo-dev
  libonnx-dev
  zlib1g-dev
  dataset-fashion-mnist
  pkg-config
  clang-format
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup.sh: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup.sh: done"
