#!/usr/bin/env bash
# Installs everything BitLab needs to build and test: Debian's packages, and the Python
# packages (from PyPI, into one virtual environment) that tests use to check BitLab's files
# with their real consumers. Idempotent and non-interactive; run as root. A second run only
# checks.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap bazel-platforms
  libtorch-dev
  libabsl-dev
  libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev
  libpng-dev
  libgtest-dev libbenchmark-dev
  libopenblas0-pthread
  libgloo-dev
  libonnx-dev
  zlib1g-dev
  dataset-fashion-mnist
  pkg-config
  clang-format
  doxygen
  python3-venv
  python3-torch
  # --config=neon, the aarch64 cross build that .ci/run tests after the x86 suite: the cross
  # compiler, qemu-user to run its tests, and arm64 builds of the libraries the kernel tests
  # and benchmark link (they pull in Debian's multiarch libc6:arm64, whose loader
  # run_under_qemu.sh uses), from the same archive once dpkg knows the architecture.
  g++-aarch64-linux-gnu qemu-user
  libabsl-dev:arm64 libgtest-dev:arm64 libbenchmark-dev:arm64
)

# Test-time Python cross-checks look for this interpreter (see bitcore/io/BUILD).
VENV=/opt/bitlab/venv
PY_PACKAGES=(numpy==1.26.4 safetensors==0.4.5 tensorboard==2.15.1 onnxruntime==1.17.3)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup.sh: all ${#PACKAGES[@]} Debian packages present"
else
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if "$VENV/bin/python" -c "import numpy, safetensors, tensorboard, onnxruntime" 2>/dev/null; then
  echo "setup.sh: Python test packages present in $VENV"
else
  echo "setup.sh: installing ${PY_PACKAGES[*]} into $VENV"
  mkdir -p "$(dirname "$VENV")"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
fi
echo "setup.sh: done"
