#!/usr/bin/env bash
# On a GPU machine: runs the staged CUDA tests, then the benchmark, from the folder
# stage_for_device.sh filled. Logs go to $OUT when it is set (the device tool's output folder).
#
#   bash tools/cuda/run_on_device.sh .cuda_carry [benchmark flags...]
set -uo pipefail
dir=${1:?usage: run_on_device.sh STAGED_DIR [benchmark flags]}
shift
logs=${OUT:-/tmp}
cuda_lib=""
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [[ -e "$d/libcublas.so.13" ]] && cuda_lib=$d && break
done
export LD_LIBRARY_PATH="$dir/lib:$cuda_lib:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv
status=0
for test in "$dir"/*_test; do
  name=$(basename "$test")
  "$test" 2>&1 | tee "$logs/$name.log" | tail -40
  ((PIPESTATUS[0] == 0)) || status=1
done
"$dir/cuda_gemm_benchmark" "$@" 2>&1 | tee "$logs/cuda_gemm_benchmark.log"
((PIPESTATUS[0] == 0)) || status=1
exit $status
