// The one driver of activation quantization that every kernel's quantize_activations runs:
// per token (one absmax scale per row) or per tensor (one absmax over the whole block, shared
// by every row), the row sums the integer kernels' offset trick needs, and the scales. Kernels
// supply only the two inner loops (an absmax and the quantization of one row), so the
// per-tensor/per-token logic exists once. Plain C++, no ISA flags.
#ifndef BITLAB_BITCORE_KERNELS_QUANTIZE_ROWS_H_
#define BITLAB_BITCORE_KERNELS_QUANTIZE_ROWS_H_

#include <cstdint>

namespace bitlab {
namespace internal {

/// max |x[i]| over `count` values (0 for none); NaNs are ignored, as std::max(m, NaN) does.
using AbsmaxFn = float (*)(const float* x, int64_t count);
/// q = clamp(round_half_even(x * r), -127, 127) with r = 127 / max(amax, eps) in float32;
/// returns s = max(amax, eps) / 127 and stores the sum of q in *sum.
using QuantizeRowFn = float (*)(const float* x, int64_t count, float amax, float eps, int8_t* q,
                                int32_t* sum);

/// Quantizes m x k activations: `scales` gets m values (per_row) or 1; `row_sums` (m values)
/// may be null.
void quantize_rows(const float* x, int64_t m, int64_t k, bool per_row, float eps, int8_t* q,
                   float* scales, int32_t* row_sums, AbsmaxFn absmax, QuantizeRowFn quantize_row);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_QUANTIZE_ROWS_H_
