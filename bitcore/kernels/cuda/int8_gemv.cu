// int8 activations x ternary weights, matrix-vector (m <= kMaxGemvRows): built to stream the
// weights at memory speed. A warp owns kRowsPerWarp output channels over the whole of K; each
// lane reads 16 bytes (64 weights) of each of them per step, coalesced across the warp, with
// kUnroll steps' loads issued before the first use, and the activations (a few KB, served by
// L1) once per step for all its rows. Decoding is one shift and one mask per 4 weights, whose
// codes (q + 1) go straight into dp4a; the row sum of x, subtracted at the end, removes the +1.
#include <cuda_runtime.h>

#include "bitcore/kernels/cuda/cuda_common.cuh"
#include "bitcore/kernels/cuda/int8_paths.h"

namespace bitlab {
namespace cuda {
namespace internal {
namespace {

constexpr int kWeightsPerLoad = 64;  // 16 bytes of 2-bit codes

// Weights are read once: stream them past L1 (evict-first in L2).
__device__ __forceinline__ uint4 load_streaming(const uint4* p) { return __ldcs(p); }

constexpr int kRowsPerWarp = 4;
constexpr int kWarpsPerBlock = 4;
constexpr int kUnroll = 2;
static_assert(kMaxGemvRows * kRowsPerWarp <= 32, "one lane writes each output of a warp");

template <int M>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    int8_gemv_kernel(Int8GemmArgs args, int32_t* acc_out, float* y_out) {
  const int lane = threadIdx.x % 32;
  const int64_t warp = blockIdx.x * int64_t{kWarpsPerBlock} + threadIdx.x / 32;
  const int64_t n0 = warp * kRowsPerWarp;
  if (n0 >= args.n) return;

  const int64_t padded_k = cuda_padded_k(args.k);
  const int64_t chunks = padded_k / kWeightsPerLoad;  // 16-byte weight loads per row
  const uint4* w_rows[kRowsPerWarp];
  for (int r = 0; r < kRowsPerWarp; ++r) {
    // Rows past n re-read the last row; their results are never written.
    const int64_t n = n0 + r < args.n ? n0 + r : args.n - 1;
    w_rows[r] = reinterpret_cast<const uint4*>(args.w + n * (padded_k / 4));
  }
  const uint4* x_rows = reinterpret_cast<const uint4*>(args.x);  // 16 bytes = 16 activations
  const int64_t x_row_vectors = padded_k / 16;

  int acc[M][kRowsPerWarp] = {};
  for (int64_t base = 0; base < chunks; base += 32 * kUnroll) {
    uint4 w[kUnroll][kRowsPerWarp];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t c = base + u * 32 + lane;
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        w[u][r] = c < chunks ? load_streaming(w_rows[r] + c)
                             : make_uint4(0x55555555u, 0x55555555u, 0x55555555u, 0x55555555u);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t c = base + u * 32 + lane;
      if (c >= chunks) break;
#pragma unroll
      for (int mm = 0; mm < M; ++mm) {
        const uint4* xv = x_rows + mm * x_row_vectors + c * 4;
        // Word p of the weight load covers activations 16p .. 16p+15 of the chunk.
#pragma unroll
        for (int p = 0; p < 4; ++p) {
          const uint4 x = __ldg(xv + p);
          const int xs[4] = {static_cast<int>(x.x), static_cast<int>(x.y), static_cast<int>(x.z),
                             static_cast<int>(x.w)};
#pragma unroll
          for (int r = 0; r < kRowsPerWarp; ++r) {
            const uint32_t word = p == 0   ? w[u][r].x
                                  : p == 1 ? w[u][r].y
                                  : p == 2 ? w[u][r].z
                                           : w[u][r].w;
#pragma unroll
            for (int j = 0; j < 4; ++j) acc[mm][r] = __dp4a(xs[j], codes_of(word, j), acc[mm][r]);
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
  // Lane (mm * kRowsPerWarp + r) writes output (mm, n0 + r).
#pragma unroll
  for (int mm = 0; mm < M; ++mm) {
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int64_t n = n0 + r;
      if (lane != mm * kRowsPerWarp + r || n >= args.n) continue;
      const int32_t a = acc[mm][r] - args.x_row_sums[mm];
      if (acc_out != nullptr) acc_out[mm * args.n + n] = a;
      if (y_out != nullptr) {
        const float xs = args.x_scale_per_row ? args.x_scale[mm] : args.x_scale[0];
        const float ws = args.w_scale_per_channel ? args.w_scale[n] : args.w_scale[0];
        const float b = args.bias != nullptr ? args.bias[n] : 0.0f;
        y_out[mm * args.n + n] = rescale(a, xs, ws, b);
      }
    }
  }
}

template <int M>
cudaError_t launch(const Int8GemmArgs& args, int32_t* acc, float* y, cudaStream_t stream) {
  const int64_t warps = (args.n + kRowsPerWarp - 1) / kRowsPerWarp;
  const int64_t blocks = (warps + kWarpsPerBlock - 1) / kWarpsPerBlock;
  int8_gemv_kernel<M>
      <<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, stream>>>(args, acc, y);
  return cudaGetLastError();
}

}  // namespace

cudaError_t int8_gemv(const Int8GemmArgs& args, int32_t* acc, float* y, cudaStream_t stream) {
  return for_each_row_count(
      args.m, [&](auto rows) { return launch<decltype(rows)::value>(args, acc, y, stream); });
}

}  // namespace internal
}  // namespace cuda
}  // namespace bitlab
