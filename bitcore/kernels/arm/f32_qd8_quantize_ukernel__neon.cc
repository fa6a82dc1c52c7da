// Activation quantization with plain NEON: absmax, then q = clamp(round_half_even(x * r), -127,
// 127) with r = 127 / max(absmax, eps). Bit for bit the reference kernel's result, NaN
// included: fmaxnm keeps the number when the other operand is NaN, as the reference's
// std::max(m, |x|) keeps m and std::max(-127.0f, NaN) gives -127; frintn rounds half to even as
// nearbyint does in the default rounding mode.
#include "bitcore/kernels/arm/ukernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

#include <algorithm>
#include <cmath>

#include <arm_neon.h>

namespace bitlab {
namespace internal {
namespace {

float absmax(const float* x, int64_t count) {
  float32x4_t m0 = vdupq_n_f32(0.0f);
  float32x4_t m1 = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    m0 = vmaxnmq_f32(m0, vabsq_f32(vld1q_f32(x + i)));
    m1 = vmaxnmq_f32(m1, vabsq_f32(vld1q_f32(x + i + 4)));
  }
  // No lane holds a NaN, so the order of the reduction does not matter.
  float result = vmaxnmvq_f32(vmaxnmq_f32(m0, m1));
  for (; i < count; ++i) result = std::max(result, std::fabs(x[i]));
  return result;
}

int32x4_t quantize4(float32x4_t x, float32x4_t r) {
  float32x4_t v = vrndnq_f32(vmulq_f32(x, r));
  v = vminnmq_f32(vmaxnmq_f32(v, vdupq_n_f32(-127.0f)), vdupq_n_f32(127.0f));
  return vcvtq_s32_f32(v);  // exact: v is an integer in [-127, 127]
}

float quantize_row(const float* x, int64_t count, float amax, float eps, int8_t* q, int32_t* sum) {
  const float clipped = amax < eps ? eps : amax;  // std::max(amax, eps), NaN cases included
  const float scalar_r = 127.0f / clipped;
  const float32x4_t r = vdupq_n_f32(scalar_r);
  int32x4_t sums = vdupq_n_s32(0);
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const int32x4_t v0 = quantize4(vld1q_f32(x + i), r);
    const int32x4_t v1 = quantize4(vld1q_f32(x + i + 4), r);
    const int32x4_t v2 = quantize4(vld1q_f32(x + i + 8), r);
    const int32x4_t v3 = quantize4(vld1q_f32(x + i + 12), r);
    sums = vaddq_s32(sums, vaddq_s32(vaddq_s32(v0, v1), vaddq_s32(v2, v3)));
    const int16x8_t lo = vcombine_s16(vmovn_s32(v0), vmovn_s32(v1));
    const int16x8_t hi = vcombine_s16(vmovn_s32(v2), vmovn_s32(v3));
    vst1q_s8(q + i, vcombine_s8(vmovn_s16(lo), vmovn_s16(hi)));
  }
  int32_t total = vaddvq_s32(sums);
  for (; i < count; ++i) {
    const float v = std::nearbyint(x[i] * scalar_r);
    q[i] = static_cast<int8_t>(std::min(127.0f, std::max(-127.0f, v)));
    total += q[i];
  }
  *sum = total;
  return clipped / 127.0f;
}

}  // namespace

float f32_absmax_ukernel__neon(const float* x, int64_t count) { return absmax(x, count); }

float f32_qd8_quantize_row_ukernel__neon(const float* x, int64_t count, float amax, float eps,
                                         int8_t* q, int32_t* sum) {
  return quantize_row(x, count, amax, eps, q, sum);
}

}  // namespace internal
}  // namespace bitlab

#else  // not an aarch64 NEON build

namespace bitlab {
namespace internal {
float f32_absmax_ukernel__neon(const float*, int64_t) { __builtin_trap(); }
float f32_qd8_quantize_row_ukernel__neon(const float*, int64_t, float, float, int8_t*, int32_t*) {
  __builtin_trap();
}
}  // namespace internal
}  // namespace bitlab

#endif
