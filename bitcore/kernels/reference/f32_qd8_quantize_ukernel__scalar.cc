#include <algorithm>
#include <cmath>

#include "bitcore/kernels/reference/ukernels.h"

namespace bitlab {
namespace internal {
namespace {

float absmax(const float* x, int64_t count) {
  float result = 0.0f;
  for (int64_t i = 0; i < count; ++i) result = std::max(result, std::fabs(x[i]));
  return result;
}

// q = clamp(round_half_even(x * r), -127, 127) with r = 127 / max(absmax, eps) computed once
// in float32: a multiply, not a divide, so every kernel rounds the same ties the same way.
// Returns the scale s = max(absmax, eps) / 127; adds the quantized values to *sum.
float quantize_row(const float* x, int64_t count, float amax, float eps, int8_t* q, int32_t* sum) {
  const float clipped = std::max(amax, eps);
  const float r = 127.0f / clipped;
  for (int64_t i = 0; i < count; ++i) {
    // nearbyint rounds half to even in the default floating-point environment.
    const float v = std::nearbyint(x[i] * r);
    q[i] = static_cast<int8_t>(std::min(127.0f, std::max(-127.0f, v)));
    *sum += q[i];
  }
  return clipped / 127.0f;
}

}  // namespace

void f32_qd8_quantize_ukernel__scalar(const float* x, int64_t m, int64_t k, bool per_row, float eps,
                                      int8_t* q, float* scales, int32_t* row_sums) {
  // Per tensor, every row shares the absmax of the whole block (and so one scale).
  const float block_absmax = per_row ? 0.0f : absmax(x, m * k);
  if (!per_row) scales[0] = std::max(block_absmax, eps) / 127.0f;
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
