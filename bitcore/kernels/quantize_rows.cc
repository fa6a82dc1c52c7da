#include "bitcore/kernels/quantize_rows.h"

namespace bitlab {
namespace internal {

void quantize_rows(const float* x, int64_t m, int64_t k, bool per_row, float eps, int8_t* q,
                   float* scales, int32_t* row_sums, AbsmaxFn absmax, QuantizeRowFn quantize_row) {
  // Per tensor, every row shares the absmax of the whole block (and so one scale).
  const float block_absmax = per_row ? 0.0f : absmax(x, m * k);
  if (!per_row) scales[0] = (block_absmax < eps ? eps : block_absmax) / 127.0f;
  for (int64_t row = 0; row < m; ++row) {
    const float* x_row = x + row * k;
    int32_t sum = 0;
    const float scale =
        quantize_row(x_row, k, per_row ? absmax(x_row, k) : block_absmax, eps, q + row * k, &sum);
    if (per_row) scales[row] = scale;
    if (row_sums != nullptr) row_sums[row] = sum;
  }
}

}  // namespace internal
}  // namespace bitlab
