// Activation quantization on the GPU, bit for bit the contract's (and the CPU kernels'):
//   r = 127 / max(absmax, eps) in float32, q = clamp(round_half_even(x * r), -127, 127),
//   s = max(absmax, eps) / 127.
// Per token it is one fused kernel, a block per row: the row's absmax, then its quantization
// and row sum from the same (now cached) row. Per tensor the absmax of the whole matrix comes
// first (an atomic max over blocks), then every row is quantized with it.
#include <cuda_runtime.h>

#include "bitcore/kernels/cuda/cuda_common.cuh"
#include "bitcore/kernels/cuda/cuda_kernels.h"
#include "bitcore/kernels/cuda/cuda_weight_layout.h"

namespace bitlab {
namespace cuda {
namespace {

using internal::warp_max;
using internal::warp_sum;

// A block a row: enough threads that one long row (K = 16384 at batch 1) is not a serial walk.
constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;

// Reduces one value per thread to the whole block's; every thread gets the result.
template <typename T, typename Op>
__device__ T block_reduce(T v, Op op, T* scratch) {
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  v = op(v);
  __syncthreads();  // scratch may still be read from a previous reduction
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T total = lane < kWarps ? scratch[lane] : T(0);
  return op(total);
}

__device__ float row_absmax(const float* x, int64_t k) {
  float m = 0.0f;
  for (int64_t i = threadIdx.x; i < k; i += kThreads) m = fmaxf(m, fabsf(x[i]));  // drops NaN
  __shared__ float scratch[kWarps];
  return block_reduce(
      m, [](float v) { return warp_max(v); }, scratch);
}

__device__ int8_t quantize_value(float x, float r) {
  // fmaxf(-127, NaN) is -127, as the CPU's std::max(-127.0f, NaN) is.
  const float v = rintf(__fmul_rn(x, r));
  return static_cast<int8_t>(fminf(127.0f, fmaxf(-127.0f, v)));
}

// Quantizes one row with a known absmax; pads to padded_k with zeros; returns the row sum to
// thread 0.
__device__ void quantize_row(const float* x, int64_t k, int64_t padded_k, float amax, float eps,
                             int8_t* q, int32_t* row_sum) {
  const float r = 127.0f / fmaxf(amax, eps);
  int sum = 0;
  for (int64_t i = threadIdx.x; i < padded_k; i += kThreads) {
    const int8_t v = i < k ? quantize_value(x[i], r) : int8_t{0};
    q[i] = v;
    sum += v;
  }
  __shared__ int scratch[kWarps];
  sum = block_reduce(
      sum, [](int v) { return warp_sum(v); }, scratch);
  if (threadIdx.x == 0) *row_sum = sum;
}

__global__ void quantize_per_token_kernel(QuantizeArgs args, int64_t padded_k) {
  const int64_t row = blockIdx.x;
  const float* x = args.x + row * args.k;
  const float amax = row_absmax(x, args.k);
  quantize_row(x, args.k, padded_k, amax, args.eps, args.q + row * padded_k, args.row_sums + row);
  if (threadIdx.x == 0) args.scales[row] = fmaxf(amax, args.eps) / 127.0f;
}

// absmax >= 0, so its float bits order as unsigned integers do.
__global__ void tensor_absmax_kernel(const float* x, int64_t count, unsigned* amax_bits) {
  float m = 0.0f;
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * kThreads) {
    m = fmaxf(m, fabsf(x[i]));
  }
  __shared__ float scratch[kWarps];
  m = block_reduce(
      m, [](float v) { return warp_max(v); }, scratch);
  if (threadIdx.x == 0) atomicMax(amax_bits, __float_as_uint(m));
}

__global__ void quantize_per_tensor_kernel(QuantizeArgs args, int64_t padded_k,
                                           const unsigned* amax_bits) {
  const int64_t row = blockIdx.x;
  quantize_row(args.x + row * args.k, args.k, padded_k, __uint_as_float(*amax_bits), args.eps,
               args.q + row * padded_k, args.row_sums + row);
}

// Turns the absmax (stored as bits in scales[0]) into the scale, once every row is done.
__global__ void absmax_to_scale_kernel(float* scales, float eps) {
  scales[0] = fmaxf(__uint_as_float(*reinterpret_cast<unsigned*>(scales)), eps) / 127.0f;
}

}  // namespace

cudaError_t quantize_activations(const QuantizeArgs& args, cudaStream_t stream) {
  if (args.x == nullptr || args.q == nullptr || args.scales == nullptr ||
      args.row_sums == nullptr || args.m <= 0 || args.k <= 0 || args.m > INT32_MAX ||
      !(args.eps > 0.0f)) {
    return cudaErrorInvalidValue;
  }
  const int64_t padded_k = cuda_padded_k(args.k);
  const dim3 rows(static_cast<unsigned>(args.m));
  if (args.per_token) {
    quantize_per_token_kernel<<<rows, kThreads, 0, stream>>>(args, padded_k);
    return cudaGetLastError();
  }
  // scales[0] holds the absmax's bits until the last step turns it into the scale.
  unsigned* amax_bits = reinterpret_cast<unsigned*>(args.scales);
  cudaError_t status = cudaMemsetAsync(amax_bits, 0, sizeof(unsigned), stream);
  if (status != cudaSuccess) return status;
  const int64_t count = args.m * args.k;
  const unsigned blocks =
      static_cast<unsigned>(std::min<int64_t>(1024, (count + kThreads - 1) / kThreads));
  tensor_absmax_kernel<<<blocks, kThreads, 0, stream>>>(args.x, count, amax_bits);
  quantize_per_tensor_kernel<<<rows, kThreads, 0, stream>>>(args, padded_k, amax_bits);
  absmax_to_scale_kernel<<<1, 1, 0, stream>>>(args.scales, args.eps);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace bitlab
