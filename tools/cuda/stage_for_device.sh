#!/usr/bin/env bash
# Copies the --config=cuda test and benchmark binaries of bitcore/kernels/cuda, and the shared libraries they need
# that a machine with only the CUDA driver may lack (Debian's abseil and Google Benchmark),
# into one folder, to carry to a GPU machine and run there with run_on_device.sh.
#
#   bazel build --config=cuda //bitcore/kernels/cuda:all
#   bash tools/cuda/stage_for_device.sh .cuda_carry
set -euo pipefail
out=${1:?usage: stage_for_device.sh OUT_DIR}
mkdir -p "$out/lib"
binaries=(
  bitcore/kernels/cuda/cuda_kernels_test
  bitcore/kernels/cuda/cuda_bit_kernel_test
  bitcore/kernels/cuda/cuda_gemm_benchmark
)
for b in "${binaries[@]}"; do
  cp -f "bazel-bin/$b" "$out/"
  # Everything outside the C library, libstdc++ and the CUDA toolkit travels along.
  ldd "bazel-bin/$b" | awk '/=> \// {print $3}' |
    grep -E 'libabsl|libbenchmark|libgtest' | xargs -r cp -f -t "$out/lib"
done
ls -la "$out" "$out/lib"
