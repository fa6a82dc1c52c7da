// int8 activations x ternary weights on int8 tensor cores (mma.sync m16n8k32 s8, sm_80+),
// any m, n, k.
//
// A block computes a BM x BN tile of the output; its warps split it WM x WN. K is walked in
// tiles of 128: each tile's activations (BM x 128 bytes) and 2-bit weight codes (BN x 32
// bytes) are copied to shared memory with cp.async, STAGES tiles in flight, so the copies of
// later tiles overlap the products of the current one. Activation fragments come from shared
// memory by ldmatrix (rows XOR-swizzled by 16-byte chunk, so its eight row reads hit distinct
// banks); weight fragments are the packed words themselves after one shift and one mask
// (cuda_weight_layout.h), codes q + 1 that the epilogue corrects by subtracting the
// activation row sum. Rows past m or n are zero-filled by cp.async and never written back.
#include <cuda_runtime.h>

#include "bitcore/kernels/cuda/cuda_common.cuh"
#include "bitcore/kernels/cuda/int8_paths.h"

namespace bitlab {
namespace cuda {
namespace internal {
namespace {

constexpr int kTileK = 128;            // activations (bytes) per row of a k-tile
constexpr int kTileKWeightBytes = 32;  // packed weight bytes per row of a k-tile
constexpr int kStepsPerTile = kTileK / 32;

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&a)[4], uint32_t address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(a[0]), "=r"(a[1]), "=r"(a[2]), "=r"(a[3])
               : "r"(address));
}

__device__ __forceinline__ void mma_s8(int (&c)[4], const uint32_t (&a)[4],
                                       const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Shared-memory byte offset of a chunk of the swizzled weight tile (activations use
// swizzled_128b).
__device__ __forceinline__ int b_offset(int row, int chunk) {
  // Rows 4..7 of every 8 swap their two 16-byte chunks, so the 8 rows a warp reads at once
  // start in distinct banks.
  return row * kTileKWeightBytes + ((chunk ^ ((row >> 2) & 1)) * 16);
}

template <int BM, int BN, int WM, int WN, int STAGES>
struct TileShape {
  static constexpr int kThreads = WM * WN * 32;
  static constexpr int kWarpM = BM / WM;
  static constexpr int kWarpN = BN / WN;
  static constexpr int kMTiles = kWarpM / 16;
  static constexpr int kNTiles = kWarpN / 8;
  static constexpr int kABytes = BM * kTileK;
  static constexpr int kBBytes = BN * kTileKWeightBytes;
  static constexpr int kStageBytes = kABytes + kBBytes;
  static constexpr int kSmemBytes = STAGES * kStageBytes;
  static_assert(kTileK == 128, "activation rows are one 128-byte swizzled row");
  static_assert(kWarpM % 16 == 0 && kWarpN % 8 == 0, "warp tile must be whole mma tiles");
  static_assert((BM * 8) % kThreads == 0 && (BN * 2) % kThreads == 0,
                "every thread copies the same number of 16-byte chunks");
};

template <int BM, int BN, int WM, int WN, int STAGES, int MIN_BLOCKS>
__global__ void __launch_bounds__(WM* WN * 32, MIN_BLOCKS)
    int8_mma_gemm_kernel(Int8GemmArgs args, int32_t* acc_out, float* y_out) {
  using Shape = TileShape<BM, BN, WM, WN, STAGES>;
  extern __shared__ __align__(128) uint8_t smem[];
  const int tid = threadIdx.x;
  const int lane = tid % 32;
  const int warp = tid / 32;
  const int warp_row = (warp / WN) * Shape::kWarpM;
  const int warp_col = (warp % WN) * Shape::kWarpN;
  const int64_t m0 = int64_t{blockIdx.y} * BM;
  const int64_t n0 = int64_t{blockIdx.x} * BN;
  const int64_t padded_k = cuda_padded_k(args.k);
  const int64_t w_row_bytes = padded_k / 4;
  const int k_tiles = static_cast<int>(padded_k / kTileK);
  const uint32_t smem_base = static_cast<uint32_t>(__cvta_generic_to_shared(smem));

  auto load_tile = [&](int stage, int kt) {
    const uint32_t a_smem = smem_base + stage * Shape::kStageBytes;
    const uint32_t b_smem = a_smem + Shape::kABytes;
#pragma unroll
    for (int i = tid; i < BM * 8; i += Shape::kThreads) {
      const int r = i / 8;
      const int c = i % 8;
      const bool valid = m0 + r < args.m;
      const int8_t* src = args.x + (valid ? m0 + r : 0) * padded_k + int64_t{kt} * kTileK + c * 16;
      cp_async_16(a_smem + swizzled_128b(r, c), src, valid);
    }
#pragma unroll
    for (int i = tid; i < BN * 2; i += Shape::kThreads) {
      const int r = i / 2;
      const int c = i % 2;
      const bool valid = n0 + r < args.n;
      const uint8_t* src =
          args.w + (valid ? n0 + r : 0) * w_row_bytes + int64_t{kt} * kTileKWeightBytes + c * 16;
      cp_async_16(b_smem + b_offset(r, c), src, valid);
    }
  };

  int acc[Shape::kMTiles][Shape::kNTiles][4] = {};
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < k_tiles) load_tile(s, s);
    cp_async_commit();
  }

  const int group = lane / 4;  // mma fragment row (A, C) or column (B)
  const int thread_in_group = lane % 4;
  for (int kt = 0; kt < k_tiles; ++kt) {
    cp_async_wait<STAGES - 2>();
    // Tile kt has landed for every thread, and every warp is done with the stage the next
    // copy overwrites (it held tile kt - 1).
    __syncthreads();
    const int next = kt + STAGES - 1;
    if (next < k_tiles) load_tile(next % STAGES, next);
    cp_async_commit();

    const int stage = kt % STAGES;
    const uint32_t a_smem = smem_base + stage * Shape::kStageBytes;
    const uint8_t* b_smem = smem + stage * Shape::kStageBytes + Shape::kABytes;
#pragma unroll
    for (int step = 0; step < kStepsPerTile; ++step) {
      uint32_t a[Shape::kMTiles][4];
#pragma unroll
      for (int mt = 0; mt < Shape::kMTiles; ++mt) {
        const int row = warp_row + mt * 16 + lane % 16;
        ldmatrix_x4(a[mt], a_smem + swizzled_128b(row, step * 2 + lane / 16));
      }
      uint32_t b[Shape::kNTiles][2];
#pragma unroll
      for (int nt = 0; nt < Shape::kNTiles; ++nt) {
        const int row = warp_col + nt * 8 + group;
        const uint2 words =
            *reinterpret_cast<const uint2*>(b_smem + b_offset(row, step / 2) + (step % 2) * 8);
        b[nt][0] = static_cast<uint32_t>(codes_of(words.x, thread_in_group));
        b[nt][1] = static_cast<uint32_t>(codes_of(words.y, thread_in_group));
      }
#pragma unroll
      for (int mt = 0; mt < Shape::kMTiles; ++mt) {
#pragma unroll
        for (int nt = 0; nt < Shape::kNTiles; ++nt) mma_s8(acc[mt][nt], a[mt], b[nt]);
      }
    }
  }
  cp_async_wait<0>();

  // C fragment: c[0], c[1] at (group, 2t), (group, 2t + 1); c[2], c[3] eight rows below.
#pragma unroll
  for (int mt = 0; mt < Shape::kMTiles; ++mt) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int64_t row = m0 + warp_row + mt * 16 + group + half * 8;
      if (row >= args.m) continue;
      const int32_t row_sum = args.x_row_sums[row];
      const float xs = y_out == nullptr       ? 0.0f
                       : args.x_scale_per_row ? args.x_scale[row]
                                              : args.x_scale[0];
#pragma unroll
      for (int nt = 0; nt < Shape::kNTiles; ++nt) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int64_t col = n0 + warp_col + nt * 8 + thread_in_group * 2 + e;
          if (col >= args.n) continue;
          const int32_t a = acc[mt][nt][half * 2 + e] - row_sum;
          if (acc_out != nullptr) acc_out[row * args.n + col] = a;
          if (y_out != nullptr) {
            const float ws = args.w_scale_per_channel ? args.w_scale[col] : args.w_scale[0];
            const float b = args.bias != nullptr ? args.bias[col] : 0.0f;
            y_out[row * args.n + col] = rescale(a, xs, ws, b);
          }
        }
      }
    }
  }
}

template <int BM, int BN, int WM, int WN, int STAGES, int MIN_BLOCKS>
cudaError_t launch(const Int8GemmArgs& args, int32_t* acc, float* y, cudaStream_t stream) {
  using Shape = TileShape<BM, BN, WM, WN, STAGES>;
  auto* kernel = int8_mma_gemm_kernel<BM, BN, WM, WN, STAGES, MIN_BLOCKS>;
  // Above 48 KB a block's dynamic shared memory must be allowed explicitly, once.
  static const cudaError_t attribute_status =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Shape::kSmemBytes);
  if (attribute_status != cudaSuccess) return attribute_status;
  const dim3 grid(static_cast<unsigned>((args.n + BN - 1) / BN),
                  static_cast<unsigned>((args.m + BM - 1) / BM));
  if (grid.y > 65535) return cudaErrorInvalidValue;
  kernel<<<grid, Shape::kThreads, Shape::kSmemBytes, stream>>>(args, acc, y);
  return cudaGetLastError();
}

}  // namespace

cudaError_t int8_mma_gemm_small(const Int8GemmArgs& args, int32_t* acc, float* y,
                                cudaStream_t stream) {
  // 16-row tiles: small m is bound by streaming the weights, so the tile is narrow (more
  // blocks to spread over the GPU) and the pipeline deep (more bytes in flight).
  return launch<16, 64, 1, 4, 8, 1>(args, acc, y, stream);
}

cudaError_t int8_mma_gemm_large(const Int8GemmArgs& args, int32_t* acc, float* y,
                                cudaStream_t stream) {
  return launch<128, 128, 2, 4, 4, 2>(args, acc, y, stream);
}

}  // namespace internal
}  // namespace cuda
}  // namespace bitlab
