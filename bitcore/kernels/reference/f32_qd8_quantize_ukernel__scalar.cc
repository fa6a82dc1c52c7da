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

float f32_absmax_ukernel__scalar(const float* x, int64_t count) { return absmax(x, count); }

float f32_qd8_quantize_row_ukernel__scalar(const float* x, int64_t count, float amax, float eps,
                                           int8_t* q, int32_t* sum) {
  return quantize_row(x, count, amax, eps, q, sum);
}

}  // namespace internal
}  // namespace bitlab
