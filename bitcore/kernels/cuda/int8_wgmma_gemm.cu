// int8 activations x ternary weights on Hopper's warpgroup tensor cores (wgmma, sm_90a), for
// large m. Built for sm_90a only; int8_gemm picks it on compute capability 9.0 devices.
//
// A block of two warpgroups computes a 128 x 128 output tile, each warpgroup 64 rows of it
// with wgmma.m64n128k32 (s8 x s8 -> s32), both operands K-major in shared memory with the
// 128-byte swizzle. K is walked in tiles of 128: cp.async brings each tile's activations
// (128 x 128 bytes, stored swizzled as wgmma reads them) and 2-bit weight codes (128 x 32
// bytes) a tile ahead; the threads then expand the codes into int8 codes (one
// shift and one mask per 4, cuda_weight_layout.h) in a swizzled tile, and the warpgroups
// issue four wgmma on it while the next tiles are copied and expanded. Codes are q + 1, so the
// epilogue subtracts the activation row sums, as on the other paths.
//
// What made it fast (measured on an H100, docs/benchmarks.md): every thread's copy sources
// and destinations worked out once rather than per tile (the per-tile address arithmetic had
// made it issue-bound, at about half the speed), and blocks small enough (93 KB of shared
// memory) that two share a multiprocessor.
//
// Why the slack: wgmma runs asynchronously, and the wait after each tile only guarantees that
// all but the last kInFlight tiles' products are done; a copy into a stage or an expansion
// into a buffer must never reach a tile the tensor cores may still be reading.
#include <cuda_runtime.h>

#include "bitcore/kernels/cuda/cuda_common.cuh"
#include "bitcore/kernels/cuda/int8_paths.h"

namespace bitlab {
namespace cuda {
namespace internal {
namespace {

constexpr int kBlockM = 128;
constexpr int kBlockK = 128;        // int8 bytes of a row per k-tile: one 128-byte swizzle row
constexpr int kBlockThreads = 256;  // two warpgroups
constexpr int kATileBytes = kBlockM * kBlockK;

constexpr int kBlockN = 128;
// Tiles of products left running while the next tile is prepared: copies and expansions must
// stay that many tiles clear of what the tensor cores may still read.
constexpr int kInFlight = 1;
constexpr int kPipelineStages = 3;
constexpr int kDecodedBuffers = kInFlight + 1;
constexpr int kPrefetch = kPipelineStages - kInFlight - 1;  // tiles copied ahead
static_assert(kPrefetch >= 1, "too few stages for the products in flight");
constexpr int kPackedWeightBytes = kBlockN * kBlockK / 4;
constexpr int kPipelineStageBytes = kATileBytes + kPackedWeightBytes;
constexpr int kWeightTileBytes = kBlockN * kBlockK;
// Swizzled tiles must start on 1024-byte boundaries (8 rows of 128 bytes). 93 KB: two blocks
// fit a multiprocessor, so one block's barriers hide behind the other's products.
constexpr int kSharedBytes =
    kPipelineStages * kPipelineStageBytes + kDecodedBuffers * kWeightTileBytes + 1024;

// Shared-memory matrix descriptor: K-major, 128-byte swizzle, 8-row groups 1024 bytes apart.
__device__ __forceinline__ uint64_t descriptor(uint32_t address) {
  const uint64_t start = (address & 0x3FFFF) >> 4;
  const uint64_t leading = 1;         // unused for swizzled K-major layouts
  const uint64_t stride = 1024 >> 4;  // next 8 rows
  const uint64_t swizzle_128b = 1;
  return start | (leading << 16) | (stride << 32) | (swizzle_128b << 62);
}

__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}

// wgmma.m64n128k32: s32 += s8 x s8, 64 accumulators a thread.
__device__ __forceinline__ void wgmma_m64n128k32(int (&d)[64], uint64_t a, uint64_t b) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, "
      "%20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, "
      "%38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, "
      "%56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, 1;\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]),
        "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]),
        "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]),
        "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]),
        "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]),
        "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]),
        "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]),
        "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]),
        "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]),
        "+r"(d[63])
      : "l"(a), "l"(b));
#endif
}

__global__ void __launch_bounds__(kBlockThreads, 2)
    int8_wgmma_gemm_kernel(Int8GemmArgs args, int32_t* acc_out, float* y_out) {
  extern __shared__ uint8_t smem_raw[];
  const uint32_t raw_base = static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw));
  const uint32_t base = (raw_base + 1023) & ~1023u;
  uint8_t* smem = smem_raw + (base - raw_base);
  const uint32_t b_base =
      base + kPipelineStages * kPipelineStageBytes;  // the two expanded weight tiles

  const int tid = threadIdx.x;
  const int warpgroup = tid / 128;
  const int64_t m0 = int64_t{blockIdx.y} * kBlockM;
  const int64_t n0 = int64_t{blockIdx.x} * kBlockN;
  const int64_t padded_k = cuda_padded_k(args.k);
  const int64_t w_row_bytes = padded_k / 4;
  const int k_tiles = static_cast<int>(padded_k / kBlockK);

  // Every thread copies the same rows and 16-byte chunks of every k-tile; only the k offset
  // moves, so sources and destinations are worked out once.
  constexpr int kARuns = kBlockM * 8 / kBlockThreads;
  constexpr int kWeightRuns = kBlockN * 2 / kBlockThreads;
  const int8_t* a_src[kARuns];
  uint32_t a_dst[kARuns];
  bool a_valid[kARuns];
#pragma unroll
  for (int j = 0; j < kARuns; ++j) {
    const int i = tid + j * kBlockThreads;
    const int r = i / 8;
    a_valid[j] = m0 + r < args.m;
    a_src[j] = args.x + (a_valid[j] ? m0 + r : 0) * padded_k + (i % 8) * 16;
    a_dst[j] = swizzled_128b(r, i % 8);
  }
  // Run i of the packed codes is half i % 2 of weight row i / 2.
  const uint8_t* w_src[kWeightRuns];
  bool w_valid[kWeightRuns];
#pragma unroll
  for (int j = 0; j < kWeightRuns; ++j) {
    const int i = tid + j * kBlockThreads;
    w_valid[j] = n0 + i / 2 < args.n;
    w_src[j] = args.w + (w_valid[j] ? n0 + i / 2 : 0) * w_row_bytes + (i % 2) * 16;
  }
  auto load_tile = [&](int stage, int kt) {
    const uint32_t a_smem = base + stage * kPipelineStageBytes;
#pragma unroll
    for (int j = 0; j < kARuns; ++j) {
      cp_async_16(a_smem + a_dst[j], a_src[j] + int64_t{kt} * kBlockK, a_valid[j]);
    }
#pragma unroll
    for (int j = 0; j < kWeightRuns; ++j) {
      cp_async_16(a_smem + kATileBytes + (tid + j * kBlockThreads) * 16,
                  w_src[j] + int64_t{kt} * (kBlockK / 4), w_valid[j]);
    }
  };

  int acc[kBlockN / 2];
#pragma unroll
  for (int i = 0; i < kBlockN / 2; ++i) acc[i] = 0;

#pragma unroll
  for (int s = 0; s < kPrefetch; ++s) {
    if (s < k_tiles) load_tile(s, s);
    cp_async_commit();
  }

  // Where this thread's runs of codes go in an expanded tile (fixed, like the copies).
  uint32_t expanded_dst[kWeightRuns][4];
#pragma unroll
  for (int j = 0; j < kWeightRuns; ++j) {
    const int i = tid + j * kBlockThreads;
#pragma unroll
    for (int p = 0; p < 4; ++p) expanded_dst[j][p] = swizzled_128b(i / 2, (i % 2) * 4 + p);
  }

  int stage = 0;               // the stage holding tile kt
  int load_stage = kPrefetch;  // the stage tile kt + kPrefetch goes to
  int buffer = 0;              // the expanded-weight buffer of tile kt
  for (int kt = 0; kt < k_tiles; ++kt) {
    cp_async_wait<kPrefetch - 1>();
    __syncthreads();  // tile kt has landed for every thread
    if (kt + kPrefetch < k_tiles) load_tile(load_stage, kt + kPrefetch);
    cp_async_commit();
    load_stage = load_stage + 1 == kPipelineStages ? 0 : load_stage + 1;

    // Expand this thread's runs of codes into a swizzled int8 tile (the products of the tile
    // that last used this buffer finished at the previous iteration's wait).
    const uint8_t* packed_tile = smem + stage * kPipelineStageBytes + kATileBytes;
    uint8_t* expanded_tile = smem + (b_base - base) + buffer * kWeightTileBytes;
#pragma unroll
    for (int j = 0; j < kWeightRuns; ++j) {
      const uint4 packed =
          *reinterpret_cast<const uint4*>(packed_tile + (tid + j * kBlockThreads) * 16);
      const uint32_t words[4] = {packed.x, packed.y, packed.z, packed.w};
#pragma unroll
      for (int p = 0; p < 4; ++p) {
        const uint4 codes = make_uint4(codes_of(words[p], 0), codes_of(words[p], 1),
                                       codes_of(words[p], 2), codes_of(words[p], 3));
        *reinterpret_cast<uint4*>(expanded_tile + expanded_dst[j][p]) = codes;
      }
    }
    // The tensor cores read shared memory through the async proxy: make this thread's writes
    // (and its cp.async data) visible to it before the barrier.
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncthreads();

    // Each 32-byte k step moves the descriptors' start addresses by 2 (16-byte units).
    const uint64_t a_desc =
        descriptor(base + stage * kPipelineStageBytes + warpgroup * 64 * kBlockK);
    const uint64_t b_desc = descriptor(b_base + buffer * kWeightTileBytes);
    wgmma_fence();
#pragma unroll
    for (int step = 0; step < kBlockK / 32; ++step) {
      wgmma_m64n128k32(acc, a_desc + 2 * step, b_desc + 2 * step);
    }
    wgmma_commit();
    wgmma_wait<kInFlight>();
    stage = stage + 1 == kPipelineStages ? 0 : stage + 1;
    buffer = buffer + 1 == kDecodedBuffers ? 0 : buffer + 1;
  }
  wgmma_wait<0>();
  cp_async_wait<0>();

  // Accumulator layout: warp w of the warpgroup holds rows 16w .. 16w+15; per 8 columns j,
  // acc[4j + 0, 1] at (row g, columns 8j + 2t, +1), acc[4j + 2, 3] eight rows below.
  const int lane = tid % 32;
  const int warp_in_group = (tid % 128) / 32;
  const int group = lane / 4;
  const int thread_in_group = lane % 4;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int64_t row = m0 + warpgroup * 64 + warp_in_group * 16 + group + half * 8;
    if (row >= args.m) continue;
    const int32_t row_sum = args.x_row_sums[row];
    const float xs = y_out == nullptr       ? 0.0f
                     : args.x_scale_per_row ? args.x_scale[row]
                                            : args.x_scale[0];
#pragma unroll
    for (int j = 0; j < kBlockN / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int64_t col = n0 + j * 8 + thread_in_group * 2 + e;
        if (col >= args.n) continue;
        const int32_t a = acc[4 * j + half * 2 + e] - row_sum;
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

}  // namespace

bool int8_wgmma_supported() {
  static const bool supported = [] {
    int device = 0;
    int major = 0;
    int minor = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
      cudaGetLastError();  // clear the error this probe may have left
      return false;
    }
    return major == 9 && minor == 0;
  }();
  return supported;
}

cudaError_t int8_wgmma_gemm(const Int8GemmArgs& args, int32_t* acc, float* y, cudaStream_t stream) {
  if (!int8_wgmma_supported()) return cudaErrorInvalidDevice;
  static const cudaError_t attribute_status = cudaFuncSetAttribute(
      int8_wgmma_gemm_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSharedBytes);
  if (attribute_status != cudaSuccess) return attribute_status;
  const dim3 grid(static_cast<unsigned>((args.n + kBlockN - 1) / kBlockN),
                  static_cast<unsigned>((args.m + kBlockM - 1) / kBlockM));
  if (grid.y > 65535) return cudaErrorInvalidValue;
  int8_wgmma_gemm_kernel<<<grid, kBlockThreads, kSharedBytes, stream>>>(args, acc, y);
  return cudaGetLastError();
}

}  // namespace internal
}  // namespace cuda
}  // namespace bitlab
