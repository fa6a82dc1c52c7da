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

/// float32 -> int8 absmax quantization; `per_row` selects one scale per row (m scales)
/// instead of one for the whole m x k block (1 scale). `row_sums` (m values) may be null.
void f32_qd8_quantize_ukernel__scalar(const float* x, int64_t m, int64_t k, bool per_row, float eps,
                                      int8_t* q, float* scales, int32_t* row_sums);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_REFERENCE_UKERNELS_H_
