// BitKernel: the interface every ternary matrix-product backend implements (reference, x86,
// ARM, CUDA), on raw pointers so kernels never include libtorch.
//
// A kernel owns its weight layout. Weights arrive in the canonical `t2` format (see
// ternary_packing.h) and `pack_weights` turns them into whatever layout the kernel's inner
// loop wants; every run call then takes that packed layout. The registry (bitcore/
// kernel_registry.h) picks a kernel per config; `bitlinear` calls it.
//
// Numerics (docs/numerics.md), which every implementation must match:
//   int8:    acc[m][n] = sum_k q_x[m][k] * q_w[n][k] in int32, exact (bit for bit with the
//            reference kernel); y[m][n] = acc[m][n] * s_x[m] * g[n] + b[n], evaluated as
//            ((float(acc) * s_x) * g) + b.
//   float32: y[m][n] = (sum_k x[m][k] * q_w[n][k]) * g[n] + b[n]: additions and subtractions
//            of x, never a multiply by a weight.
//
// Example:
//   const bitlab::BitKernel& kernel = bitlab::KernelRegistry::get_kernel_for_config(config);
//   std::vector<uint8_t> packed(kernel.packed_weight_bytes(n, k));
//   kernel.pack_weights(t2.data(), n, k, packed.data());
//   kernel.quantize_activations(x, m, k, config.activation_granularity, config.eps, qx, sx,
//                               /*row_sums=*/nullptr);
//   kernel.int8_gemm({m, n, k, qx, sx, per_token, packed.data(), g, per_channel, bias}, 0, n, y);
#ifndef BITLAB_BITCORE_KERNELS_BIT_KERNEL_H_
#define BITLAB_BITCORE_KERNELS_BIT_KERNEL_H_

#include <cstdint>
#include <string>

#include "bitcore/kernels/quantize_rows.h"
#include "bitcore/quant_config.h"

namespace bitlab {

/// A kernel's activation quantization loops (quantize_rows.h).
struct ActivationQuantizer {
  internal::AbsmaxFn absmax = nullptr;
  internal::QuantizeRowFn quantize_row = nullptr;
};

/// y = (q_x @ q_w^T) * s_x * g + b with int8 activations. All arrays are dense, row-major.
struct Int8GemmArgs {
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  const int8_t* x = nullptr;       // m x k quantized activations, each in [-127, 127]
  const float* x_scale = nullptr;  // m scales, or 1 if !x_scale_per_row
  bool x_scale_per_row = false;
  const uint8_t* w = nullptr;      // n x k ternary weights in this kernel's packed layout
  const float* w_scale = nullptr;  // n scales, or 1 if !w_scale_per_channel
  bool w_scale_per_channel = false;
  const float* bias = nullptr;          // n values, or null for none
  const int32_t* x_row_sums = nullptr;  // m sums of x's rows, or null (then computed if needed)
};

/// y = (x @ q_w^T) * g + b with float32 activations (weight-only quantization).
struct Float32GemmArgs {
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  const float* x = nullptr;        // m x k activations
  const uint8_t* w = nullptr;      // n x k ternary weights in this kernel's packed layout
  const float* w_scale = nullptr;  // n scales, or 1 if !w_scale_per_channel
  bool w_scale_per_channel = false;
  const float* bias = nullptr;  // n values, or null for none
};

/// Where a kernel computes. The registry selects among the kernels of one device at a time:
/// CPU tensors run on kCpu kernels, CUDA tensors on kCuda kernels.
enum class KernelDevice { kCpu, kCuda };

/// "cpu" / "cuda".
inline const char* to_string(KernelDevice device) {
  return device == KernelDevice::kCuda ? "cuda" : "cpu";
}

class BitKernel {
 public:
  virtual ~BitKernel() = default;

  /// The registry name, which BITLAB_KERNEL and get_kernel_by_name select, e.g. "reference".
  virtual const char* name() const = 0;
  /// The instruction set the kernel needs, e.g. "scalar", "avx512vnni".
  virtual const char* isa() const = 0;
  /// Among supported, compatible kernels of one device the highest priority wins.
  virtual int priority() const = 0;
  /// Where the kernel computes. Every kernel's interface below takes host memory, so tests
  /// drive all kernels alike: a kCuda kernel's pack_weights works on host memory like every
  /// kernel's, and its int8_accumulate / int8_gemm / float32_gemm take HOST pointers for tests
  /// and convenience (copy in, run on the GPU, copy out). Layers on CUDA tensors do not go
  /// through those copies: they pack with pack_weights, move the bytes to the GPU and call the
  /// device-pointer API in bitcore/kernels/cuda/cuda_kernels.h directly.
  virtual KernelDevice device() const { return KernelDevice::kCpu; }
  /// Empty when the kernel can run in this process; else why not (not compiled in, CPU lacks
  /// an instruction set extension).
  virtual std::string unsupported_reason() const = 0;
  /// Empty when the kernel implements `config`; else what it lacks.
  virtual std::string incompatibility(const BitQuantConfig& config) const = 0;

  bool is_supported() const { return unsupported_reason().empty(); }
  bool is_compatible_with(const BitQuantConfig& config) const {
    return incompatibility(config).empty();
  }

  /// Output columns come in blocks of this many in the packed layout; callers that split the
  /// columns among threads split at multiples of it.
  virtual int64_t n_block() const = 0;
  /// Bytes of this kernel's layout for n x k weights.
  virtual int64_t packed_weight_bytes(int64_t n, int64_t k) const = 0;
  /// Repacks canonical t2 weights (n rows of t2_row_bytes(k) bytes) into this layout.
  virtual void pack_weights(const uint8_t* t2, int64_t n, int64_t k, uint8_t* packed) const = 0;

  /// The two inner loops of this kernel's activation quantization (an absmax and the
  /// quantization of a run of values with a given absmax; see quantize_rows.h). Callers that
  /// split one tensor's quantization among threads use them directly: the absmax of the parts
  /// is the absmax of the whole, and each value is quantized on its own, so the bits are those
  /// of quantize_activations.
  virtual ActivationQuantizer activation_quantizer() const = 0;

  /// Quantizes m x k activations to int8 per the numerics contract: one absmax scale for all
  /// of x (per tensor; `scales` gets 1 value) or one per row (per channel; `scales` gets m).
  /// `row_sums`, if not null, gets the sum of each quantized row (m values), which the integer
  /// kernels' offset trick needs; computing it here saves a second pass over q.
  void quantize_activations(const float* x, int64_t m, int64_t k, Granularity granularity,
                            float eps, int8_t* q, float* scales, int32_t* row_sums) const {
    const ActivationQuantizer quantizer = activation_quantizer();
    internal::quantize_rows(x, m, k, granularity == Granularity::kPerChannel, eps, q, scales,
                            row_sums, quantizer.absmax, quantizer.quantize_row);
  }
  /// acc (m x n) = q_x @ q_w^T, exact int32. Scales and bias in `args` are ignored.
  virtual void int8_accumulate(const Int8GemmArgs& args, int32_t* acc) const = 0;
  /// y = acc * s_x * g + b for the output columns [n_begin, n_end) of the m x n output y (row
  /// stride n). n_begin is a multiple of n_block(); other columns are left untouched, so
  /// threads can each run a range.
  virtual void int8_gemm(const Int8GemmArgs& args, int64_t n_begin, int64_t n_end,
                         float* y) const = 0;
  /// y = (x @ q_w^T) * g + b for the output columns [n_begin, n_end), as int8_gemm.
  virtual void float32_gemm(const Float32GemmArgs& args, int64_t n_begin, int64_t n_end,
                            float* y) const = 0;
};

}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_BIT_KERNEL_H_
