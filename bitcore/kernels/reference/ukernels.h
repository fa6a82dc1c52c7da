// The reference micro-kernels: portable scalar C++, one output element at a time, written to
// be obviously right rather than fast. They are the oracle every other kernel is tested
// against, so they follow the numerics contract (docs/numerics.md) literally and read the canonical
// t2 layout directly.
#ifndef BITLAB_BITCORE_KERNELS_REFERENCE_UKERNELS_H_
#define BITLAB_BITCORE_KERNELS_REFERENCE_UKERNELS_H_

#include <cstdint>

#include "bitcore/kernels/bit_kernel.h"

namespace bitlab {
namespace internal {

/// int8 activations x t2 weights, output columns [n_begin, n_end). Writes the exact int32
/// accumulators to `acc` and/or the rescaled output to `y` (either may be null), both m x n.
void qd8_t2w_gemm_ukernel_1x1c1__scalar(const Int8GemmArgs& args, int64_t n_begin, int64_t n_end,
                                        int32_t* acc, float* y);

/// float32 activations x t2 weights: y = (x @ q_w^T) * g + b, summing x with the weight's sign,
/// output columns [n_begin, n_end).
void f32_t2w_gemm_ukernel_1x1c1__scalar(const Float32GemmArgs& args, int64_t n_begin, int64_t n_end,
                                        float* y);

/// The rescales that end the two products above, for output [m, n] (int8) or column n
/// (float32): ((float(acc) * s_x) * g) + b and (sum * g) + b. Exposed so that the conformance
/// test can rescale one reference product for each scale configuration it checks instead of
/// computing the same product again for each (most of its time under emulation).
float qd8_rescale__scalar(const Int8GemmArgs& args, int64_t m, int64_t n, int32_t acc);
float f32_rescale__scalar(const Float32GemmArgs& args, int64_t n, float sum);

/// The inner loops of activation quantization (see bitcore/kernels/quantize_rows.h).
float f32_absmax_ukernel__scalar(const float* x, int64_t count);
float f32_qd8_quantize_row_ukernel__scalar(const float* x, int64_t count, float amax, float eps,
                                           int8_t* q, int32_t* sum);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_REFERENCE_UKERNELS_H_
