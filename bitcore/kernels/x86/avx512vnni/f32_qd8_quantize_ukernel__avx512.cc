// Activation quantization with AVX-512: absmax, then q = clamp(round_half_even(x * r), -127,
// 127) with r = 127 / max(absmax, eps). Bit for bit the reference kernel's result, NaN
// included: max(|x|, m) keeps m when x is NaN (the reference's std::max does the same), and a
// NaN product clamps to -127 as std::max(-127.0f, NaN) does.
#include <immintrin.h>

#include "bitcore/kernels/x86/avx512vnni/ukernels.h"

#if defined(__AVX512F__) && defined(__AVX512BW__)

namespace bitlab {
namespace internal {
namespace {

__mmask16 tail_mask(int64_t remaining) {
  return remaining >= 16 ? static_cast<__mmask16>(0xFFFF)
                         : static_cast<__mmask16>((1u << remaining) - 1u);
}

float absmax(const float* x, int64_t count) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  __m512 m0 = _mm512_setzero_ps();
  __m512 m1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= count; i += 32) {
    m0 = _mm512_max_ps(_mm512_andnot_ps(sign, _mm512_loadu_ps(x + i)), m0);
    m1 = _mm512_max_ps(_mm512_andnot_ps(sign, _mm512_loadu_ps(x + i + 16)), m1);
  }
  for (; i < count; i += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(tail_mask(count - i), x + i);
    m0 = _mm512_max_ps(_mm512_andnot_ps(sign, v), m0);
  }
  return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

// Quantizes `count` values with one scale; returns s = max(absmax, eps) / 127 and the sum of
// the quantized values in *sum.
float quantize_row(const float* x, int64_t count, float amax, float eps, int8_t* q, int32_t* sum) {
  const float clipped = amax > eps ? amax : eps;
  const __m512 r = _mm512_set1_ps(127.0f / clipped);
  const __m512 lo = _mm512_set1_ps(-127.0f);
  const __m512 hi = _mm512_set1_ps(127.0f);
  __m512i sums = _mm512_setzero_si512();
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 mask = tail_mask(count - i);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x + i), r);
    v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);  // max(NaN, lo) is lo
    const __m512i values = _mm512_maskz_cvtps_epi32(mask, v);
    sums = _mm512_add_epi32(sums, values);
    _mm512_mask_cvtsepi32_storeu_epi8(q + i, mask, values);
  }
  *sum = _mm512_reduce_add_epi32(sums);
  return clipped / 127.0f;
}

}  // namespace

float f32_absmax_ukernel__avx512(const float* x, int64_t count) { return absmax(x, count); }

float f32_qd8_quantize_row_ukernel__avx512(const float* x, int64_t count, float amax, float eps,
                                           int8_t* q, int32_t* sum) {
  return quantize_row(x, count, amax, eps, q, sum);
}

}  // namespace internal
}  // namespace bitlab

#else  // compiled without AVX-512

namespace bitlab {
namespace internal {
float f32_absmax_ukernel__avx512(const float*, int64_t) { __builtin_trap(); }
float f32_qd8_quantize_row_ukernel__avx512(const float*, int64_t, float, float, int8_t*, int32_t*) {
  __builtin_trap();
}
}  // namespace internal
}  // namespace bitlab

#endif
