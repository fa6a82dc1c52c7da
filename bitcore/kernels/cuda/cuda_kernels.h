// BitLab's CUDA kernels: ternary matrix products and activation quantization on raw device
// pointers. No libtorch: the tests and the benchmark need only the CUDA runtime and driver.
//
// Every function launches on `stream` and returns the status of the launch (argument errors
// as cudaErrorInvalidValue, before anything is launched); it does not synchronize.
//
// Layouts (cuda_weight_layout.h): weights are packed with pack_cuda_weights; int8 activations
// are rows of cuda_padded_k(k) bytes, zero-padded, as quantize_activations writes them.
//
// Numerics are the contract's (docs/numerics.md), the same as the CPU kernels':
//   acc[m][n] = sum_k q_x[m][k] * q_w[n][k] in int32, exact;
//   y[m][n]   = ((float(acc) * s_x[m]) * g[n]) + b[n], each operation rounded on its own.
//
// Example (device pointers; error checks left out):
//   bitlab::cuda::quantize_activations({x, m, k, /*per_token=*/true, 1e-5f, q, s, sums}, stream);
//   bitlab::cuda::int8_gemm({m, n, k, q, s, true, sums, w, g, true, bias}, nullptr, y, stream);
#ifndef BITLAB_BITCORE_KERNELS_CUDA_CUDA_KERNELS_H_
#define BITLAB_BITCORE_KERNELS_CUDA_CUDA_KERNELS_H_

#include <cstdint>
#include <string>

#include <cuda_runtime_api.h>

namespace bitlab {
namespace cuda {

/// Empty when this process can use a CUDA device; else why not ("no CUDA device: ...").
std::string missing_cuda_device();

/// Per-token (one scale per row) or per-tensor (one for all rows) int8 quantization of a
/// float32 m x k matrix (row stride k): q (m x cuda_padded_k(k), zero padding), scales (m
/// values per token, 1 per tensor), row_sums (m sums of q's rows).
struct QuantizeArgs {
  const float* x = nullptr;
  int64_t m = 0;
  int64_t k = 0;
  bool per_token = true;
  float eps = 1e-5f;
  int8_t* q = nullptr;
  float* scales = nullptr;
  int32_t* row_sums = nullptr;
};
cudaError_t quantize_activations(const QuantizeArgs& args, cudaStream_t stream);

/// y = (q_x @ q_w^T) * s_x * g + b with int8 activations and packed ternary weights.
struct Int8GemmArgs {
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  const int8_t* x = nullptr;       // m x cuda_padded_k(k), zero padding
  const float* x_scale = nullptr;  // m values if x_scale_per_row, else 1
  bool x_scale_per_row = false;
  const int32_t* x_row_sums = nullptr;  // m sums of x's rows (quantize_activations writes them)
  const uint8_t* w = nullptr;           // pack_cuda_weights layout, n rows
  const float* w_scale = nullptr;       // n values if w_scale_per_channel, else 1
  bool w_scale_per_channel = false;
  const float* bias = nullptr;  // n values, or null
};

/// Which int8 kernel int8_gemm runs for a given m.
enum class Int8Path {
  kAuto,              // matrix-vector for m <= kMaxGemvRows, tensor cores above
  kGemv,              // dp4a matrix-vector, m <= kMaxGemvRows only
  kTensorCoreSmall,   // mma.sync s8 with 16-row tiles (small m), sm_80+
  kTensorCoreLarge,   // mma.sync s8 with 128 x 128 tiles, sm_80+
  kTensorCoreHopper,  // wgmma s8 with 128-row tiles, compute capability 9.0 only
};
inline constexpr int64_t kMaxGemvRows = 8;

/// Whether this device runs Int8Path::kTensorCoreHopper (compute capability 9.0).
bool hopper_tensor_cores_available();

/// Writes acc (m x n int32, exact) and/or y (m x n float32); either may be null, not both.
/// kAuto takes the Hopper path for large m where the device has it.
cudaError_t int8_gemm(const Int8GemmArgs& args, int32_t* acc, float* y, cudaStream_t stream,
                      Int8Path path = Int8Path::kAuto);

/// Weight-only matrix-vector product with 16-bit float activations:
/// y = (x @ q_w^T) * g + b, x an m x k matrix (row stride k) of fp16 or bf16, y float32,
/// accumulated in float32. m <= kMaxGemvRows.
enum class HalfType { kFloat16, kBFloat16 };
struct HalfGemvArgs {
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  const void* x = nullptr;  // __half or __nv_bfloat16, per `type`
  HalfType type = HalfType::kBFloat16;
  const uint8_t* w = nullptr;
  const float* w_scale = nullptr;
  bool w_scale_per_channel = false;
  const float* bias = nullptr;
};
cudaError_t half_gemv(const HalfGemvArgs& args, float* y, cudaStream_t stream);

}  // namespace cuda
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_CUDA_CUDA_KERNELS_H_
