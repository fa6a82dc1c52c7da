// Small device helpers shared by the CUDA kernels: warp reductions, cp.async copies,
// rounding-exact float arithmetic, and the 2-bit code decode of cuda_weight_layout.h.
#ifndef BITLAB_BITCORE_KERNELS_CUDA_CUDA_COMMON_CUH_
#define BITLAB_BITCORE_KERNELS_CUDA_CUDA_COMMON_CUH_

#include <cstdint>
#include <type_traits>

#include <cuda_runtime.h>

#include "bitcore/kernels/cuda/cuda_kernels.h"

namespace bitlab {
namespace cuda {
namespace internal {

constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ int warp_sum(int v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1)
    v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// Asynchronous 16-byte copies from global to shared memory (sm_80+), in commit groups.
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, bool valid) {
  // With a source size of 0 nothing is read and the 16 bytes are zero-filled.
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Byte offset of 16-byte chunk `chunk` of row `row` in a tile of 128-byte rows whose chunks
// are XOR-swizzled by row: ldmatrix's eight rows of one chunk hit distinct banks, and it is
// the layout wgmma's 128-byte swizzle mode reads (with the tile on a 1024-byte boundary).
__device__ __forceinline__ int swizzled_128b(int row, int chunk) {
  return row * 128 + ((chunk ^ (row & 7)) * 16);
}

// Calls f(std::integral_constant<int, m>) for 1 <= m <= kMaxGemvRows: the matrix-vector
// kernels are compiled once per row count. Other m are cudaErrorInvalidValue.
template <typename F>
cudaError_t for_each_row_count(int64_t m, F&& f) {
  switch (m) {
    case 1:
      return f(std::integral_constant<int, 1>{});
    case 2:
      return f(std::integral_constant<int, 2>{});
    case 3:
      return f(std::integral_constant<int, 3>{});
    case 4:
      return f(std::integral_constant<int, 4>{});
    case 5:
      return f(std::integral_constant<int, 5>{});
    case 6:
      return f(std::integral_constant<int, 6>{});
    case 7:
      return f(std::integral_constant<int, 7>{});
    case 8:
      return f(std::integral_constant<int, 8>{});
    default:
      return cudaErrorInvalidValue;
  }
}
static_assert(kMaxGemvRows == 8, "for_each_row_count lists every row count");

// The codes of weights k0+4j .. k0+4j+3 of a layout word, one per byte (cuda_weight_layout.h).
__device__ __forceinline__ int codes_of(uint32_t word, int j) {
  return static_cast<int>((word >> (2 * j)) & 0x03030303u);
}

// The contract's epilogue, ((acc * s_x) * g) + b, with every operation rounded on its own:
// nvcc would otherwise contract a multiply and an add into one fused multiply-add.
__device__ __forceinline__ float rescale(int32_t acc, float x_scale, float w_scale, float bias) {
  return __fadd_rn(__fmul_rn(__fmul_rn(static_cast<float>(acc), x_scale), w_scale), bias);
}

}  // namespace internal
}  // namespace cuda
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_CUDA_CUDA_COMMON_CUH_
