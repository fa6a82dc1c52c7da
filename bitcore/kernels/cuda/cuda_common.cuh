// Small device helpers shared by the CUDA kernels: warp reductions, cp.async copies,
// rounding-exact float arithmetic, and the 2-bit code decode of cuda_weight_layout.h.
#ifndef BITLAB_BITCORE_KERNELS_CUDA_CUDA_COMMON_CUH_
#define BITLAB_BITCORE_KERNELS_CUDA_CUDA_COMMON_CUH_

#include <cstdint>

#include <cuda_runtime.h>

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
