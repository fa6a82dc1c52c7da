// Weight-only matrix-vector product with fp16 or bf16 activations (m <= kMaxGemvRows):
// y = (x @ q_w^T) * g + b, accumulated in float32. The same streaming structure as the int8
// matrix-vector kernel (a warp owns kRowsPerWarp output channels, each lane reads 16 bytes of
// each per step); a weight code c becomes the float c - 1 through its bits (0x4B000000 | c is
// 2^23 + c), so each weight costs a mask, an or, a subtract and an exact multiply-add by
// -1, 0 or +1, which is an addition or subtraction of x.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "bitcore/kernels/cuda/cuda_common.cuh"
#include "bitcore/kernels/cuda/cuda_kernels.h"
#include "bitcore/kernels/cuda/cuda_weight_layout.h"

namespace bitlab {
namespace cuda {
namespace {

using internal::warp_sum;

constexpr int kRowsPerWarp = 4;
constexpr int kWarpsPerBlock = 4;
constexpr int kWeightsPerLoad = 64;

__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

// The ternary value (c - 1) of weight 4*j + i of a layout word, as a float.
__device__ __forceinline__ float weight_value(uint32_t word, int i, int j) {
  const uint32_t code = (word >> (8 * i + 2 * j)) & 3u;
  return __int_as_float(static_cast<int>(0x4B000000u | code)) - 8388609.0f;
}

// Sixteen activations from k0 on, as floats; zeros past k. Vectorized: two 16-byte loads, for
// rows whose length is a multiple of 8 (so every row starts 16-byte aligned).
template <typename T, bool kVectorized>
__device__ __forceinline__ void load_activations(const T* x_row, int64_t k0, int64_t k,
                                                 float (&xs)[16]) {
  if (kVectorized && k0 + 16 <= k) {
    const uint4* v = reinterpret_cast<const uint4*>(x_row + k0);
    const uint4 halves[2] = {__ldg(v), __ldg(v + 1)};
    const T* h = reinterpret_cast<const T*>(halves);
#pragma unroll
    for (int e = 0; e < 16; ++e) xs[e] = to_float(h[e]);
    return;
  }
#pragma unroll
  for (int e = 0; e < 16; ++e) xs[e] = k0 + e < k ? to_float(x_row[k0 + e]) : 0.0f;
}

template <typename T, int M, bool kVectorized>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    half_gemv_kernel(HalfGemvArgs args, float* y) {
  const int lane = threadIdx.x % 32;
  const int64_t warp = blockIdx.x * int64_t{kWarpsPerBlock} + threadIdx.x / 32;
  const int64_t n0 = warp * kRowsPerWarp;
  if (n0 >= args.n) return;
  const T* x = static_cast<const T*>(args.x);
  const int64_t padded_k = cuda_padded_k(args.k);
  const int64_t chunks = padded_k / kWeightsPerLoad;
  const uint4* w_rows[kRowsPerWarp];
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t n = n0 + r < args.n ? n0 + r : args.n - 1;
    w_rows[r] = reinterpret_cast<const uint4*>(args.w + n * (padded_k / 4));
  }

  float acc[M][kRowsPerWarp] = {};
  for (int64_t c = lane; c < chunks; c += 32) {
    uint4 w[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) w[r] = __ldcs(w_rows[r] + c);
    const int64_t k_begin = c * kWeightsPerLoad;
#pragma unroll
    for (int mm = 0; mm < M; ++mm) {
      const T* x_row = x + mm * args.k;
#pragma unroll
      for (int p = 0; p < 4; ++p) {
        // Activations k_begin + 16p + 4j + i pair with byte i, shift j of word p.
        float xs[16];
        load_activations<T, kVectorized>(x_row, k_begin + 16 * p, args.k, xs);
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) {
          const uint32_t word = p == 0 ? w[r].x : p == 1 ? w[r].y : p == 2 ? w[r].z : w[r].w;
#pragma unroll
          for (int j = 0; j < 4; ++j) {
#pragma unroll
            for (int i = 0; i < 4; ++i) {
              acc[mm][r] = __fmaf_rn(xs[4 * j + i], weight_value(word, i, j), acc[mm][r]);
            }
          }
        }
      }
    }
  }

#pragma unroll
  for (int mm = 0; mm < M; ++mm) {
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) acc[mm][r] = warp_sum(acc[mm][r]);
  }
#pragma unroll
  for (int mm = 0; mm < M; ++mm) {
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int64_t n = n0 + r;
      if (lane != mm * kRowsPerWarp + r || n >= args.n) continue;
      const float ws = args.w_scale_per_channel ? args.w_scale[n] : args.w_scale[0];
      const float b = args.bias != nullptr ? args.bias[n] : 0.0f;
      y[mm * args.n + n] = __fadd_rn(__fmul_rn(acc[mm][r], ws), b);
    }
  }
}

template <typename T, int M>
cudaError_t launch(const HalfGemvArgs& args, float* y, cudaStream_t stream) {
  const int64_t warps = (args.n + kRowsPerWarp - 1) / kRowsPerWarp;
  const int64_t blocks = (warps + kWarpsPerBlock - 1) / kWarpsPerBlock;
  if (args.k % 8 == 0) {
    half_gemv_kernel<T, M, true>
        <<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, stream>>>(args, y);
  } else {
    half_gemv_kernel<T, M, false>
        <<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, stream>>>(args, y);
  }
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_for_rows(const HalfGemvArgs& args, float* y, cudaStream_t stream) {
  return internal::for_each_row_count(
      args.m, [&](auto rows) { return launch<T, decltype(rows)::value>(args, y, stream); });
}

}  // namespace

cudaError_t half_gemv(const HalfGemvArgs& args, float* y, cudaStream_t stream) {
  if (args.m <= 0 || args.m > kMaxGemvRows || args.n <= 0 || args.k <= 0 || args.n > INT32_MAX ||
      args.x == nullptr || args.w == nullptr || args.w_scale == nullptr || y == nullptr) {
    return cudaErrorInvalidValue;
  }
  return args.type == HalfType::kFloat16 ? launch_for_rows<__half>(args, y, stream)
                                         : launch_for_rows<__nv_bfloat16>(args, y, stream);
}

}  // namespace cuda
}  // namespace bitlab
