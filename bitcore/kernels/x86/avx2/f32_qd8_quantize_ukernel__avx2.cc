// Activation quantization with AVX2: absmax, then q = clamp(round_half_even(x * r), -127, 127)
// with r = 127 / max(absmax, eps). Bit for bit the reference kernel's result, NaN included:
// max(|x|, m) keeps m when x is NaN (vmaxps returns its second operand when either is NaN, as
// the reference's std::max(m, |x|) keeps m), and a NaN product clamps to -127 as
// std::max(-127.0f, NaN) does.
#include <immintrin.h>

#include "bitcore/kernels/x86/avx2/ukernels.h"

#if defined(__AVX2__) && defined(__FMA__)

namespace bitlab {
namespace internal {
namespace {

// All-ones in the first `remaining` (1..7) lanes: maskload reads nothing past them.
__m256i tail_mask(int64_t remaining) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(remaining)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

float absmax(const float* x, int64_t count) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m0 = _mm256_setzero_ps();
  __m256 m1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    m0 = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)), m0);
    m1 = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i + 8)), m1);
  }
  if (i + 8 <= count) {
    m0 = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)), m0);
    i += 8;
  }
  if (i < count) {
    const __m256 v = _mm256_maskload_ps(x + i, tail_mask(count - i));  // zeros past the end
    m1 = _mm256_max_ps(_mm256_andnot_ps(sign, v), m1);
  }
  // The lanes hold no NaN (NaNs never enter), so the order of the reduction does not matter.
  const __m256 m = _mm256_max_ps(m0, m1);
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
  return _mm_cvtss_f32(h);
}

__m256i quantize8(__m256 x, __m256 r) {
  __m256 v = _mm256_mul_ps(x, r);
  v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  v = _mm256_max_ps(v, _mm256_set1_ps(-127.0f));  // max(NaN, -127) is -127
  v = _mm256_min_ps(v, _mm256_set1_ps(127.0f));
  return _mm256_cvtps_epi32(v);  // exact: v is an integer in [-127, 127]
}

// 8 int32 values in [-127, 127] to 8 int8 in the low 8 bytes.
__m128i pack8(__m256i v) {
  const __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return _mm_packs_epi16(p, p);
}

// Quantizes `count` values with one scale; returns s = max(absmax, eps) / 127 and the sum of
// the quantized values in *sum.
float quantize_row(const float* x, int64_t count, float amax, float eps, int8_t* q, int32_t* sum) {
  const float clipped = amax < eps ? eps : amax;  // std::max(amax, eps), NaN cases included
  const __m256 r = _mm256_set1_ps(127.0f / clipped);
  __m256i sums = _mm256_setzero_si256();
  int64_t i = 0;
  for (; i + 32 <= count; i += 32) {
    const __m256i v0 = quantize8(_mm256_loadu_ps(x + i), r);
    const __m256i v1 = quantize8(_mm256_loadu_ps(x + i + 8), r);
    const __m256i v2 = quantize8(_mm256_loadu_ps(x + i + 16), r);
    const __m256i v3 = quantize8(_mm256_loadu_ps(x + i + 24), r);
    sums = _mm256_add_epi32(sums,
                            _mm256_add_epi32(_mm256_add_epi32(v0, v1), _mm256_add_epi32(v2, v3)));
    // packs work within 128-bit lanes: the dwords come out as v0 v1 v2 v3 (low halves), then
    // v0 v1 v2 v3 (high halves); the permute puts them back in order.
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(v0, v1), _mm256_packs_epi32(v2, v3));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), p);
  }
  for (; i + 8 <= count; i += 8) {
    const __m256i v = quantize8(_mm256_loadu_ps(x + i), r);
    sums = _mm256_add_epi32(sums, v);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), pack8(v));
  }
  if (i < count) {
    const int64_t remaining = count - i;
    // Lanes past the end load as 0 and quantize to 0, so they add nothing to the sum.
    const __m256i v = quantize8(_mm256_maskload_ps(x + i, tail_mask(remaining)), r);
    sums = _mm256_add_epi32(sums, v);
    const __m128i p = pack8(v);
    alignas(16) int8_t bytes[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(bytes), p);
    for (int64_t j = 0; j < remaining; ++j) q[i + j] = bytes[j];
  }
  __m128i h = _mm_add_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
  *sum = _mm_cvtsi128_si32(h);
  return clipped / 127.0f;
}

}  // namespace

float f32_absmax_ukernel__avx2(const float* x, int64_t count) { return absmax(x, count); }

float f32_qd8_quantize_row_ukernel__avx2(const float* x, int64_t count, float amax, float eps,
                                         int8_t* q, int32_t* sum) {
  return quantize_row(x, count, amax, eps, q, sum);
}

}  // namespace internal
}  // namespace bitlab

#else  // compiled without AVX2

namespace bitlab {
namespace internal {
float f32_absmax_ukernel__avx2(const float*, int64_t) { __builtin_trap(); }
float f32_qd8_quantize_row_ukernel__avx2(const float*, int64_t, float, float, int8_t*, int32_t*) {
  __builtin_trap();
}
}  // namespace internal
}  // namespace bitlab

#endif
