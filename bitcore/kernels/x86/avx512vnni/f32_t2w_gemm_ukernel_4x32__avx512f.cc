// float32 activations x ternary weights with AVX-512, read straight from the blocked t2 layout
// (so int8 and float32 share one packed copy). No multiplies by weights: for each k, two bit
// tests turn the 2-bit codes of 16 columns into a mask of +1 lanes and a mask of -1 lanes, and
// masked adds accumulate x into a "plus" and a "minus" sum, subtracted once at the end. The
// masks are shared by up to 4 rows; two column blocks give each row four independent add
// chains, enough to hide the add latency.
#include <immintrin.h>

#include "bitcore/kernels/x86/avx512vnni/ukernels.h"

#if defined(__AVX512F__)

namespace bitlab {
namespace internal {
namespace {

__mmask16 column_mask(int64_t n0, int64_t n_end) {
  const int64_t valid = n_end - n0;
  return valid >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << valid) - 1u);
}

// Weight k = 16 kb + 4 s + p of a column sits in byte p of its 32-bit lane, bits 2s..2s+1:
// code 2 (+1) has the high bit set, code 0 (-1) has neither.
template <int MR, int NB>
inline void accumulate_k(const __m512i* packed, int shift, const float* x, int64_t x_stride,
                         int64_t kk, __m512 (*plus)[NB], __m512 (*minus)[NB]) {
  const __m512i high_bit = _mm512_set1_epi32(static_cast<int>(2u << shift));
  const __m512i both_bits = _mm512_set1_epi32(static_cast<int>(3u << shift));
  __mmask16 is_plus[NB], is_minus[NB];
#pragma GCC unroll 4
  for (int b = 0; b < NB; ++b) {
    is_plus[b] = _mm512_test_epi32_mask(packed[b], high_bit);
    is_minus[b] = _mm512_testn_epi32_mask(packed[b], both_bits);
  }
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) {
    const __m512 xb = _mm512_set1_ps(x[r * x_stride + kk]);
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) {
      plus[r][b] = _mm512_mask_add_ps(plus[r][b], is_plus[b], plus[r][b], xb);
      minus[r][b] = _mm512_mask_add_ps(minus[r][b], is_minus[b], minus[r][b], xb);
    }
  }
}

template <int MR, int NB>
void tile(const F32BlockedArgs& a, int64_t row0, int64_t n0) {
  const int64_t block_bytes = a.k_blocks * 64;
  const uint8_t* w = a.w + (n0 / 16) * block_bytes;
  const float* x = a.x + row0 * a.k;
  __m512 plus[MR][NB], minus[MR][NB];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) plus[r][b] = minus[r][b] = _mm512_setzero_ps();
  }
  const int64_t full_blocks = a.k / 16;
  for (int64_t kb = 0; kb < full_blocks; ++kb) {
    __m512i packed[NB];
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) packed[b] = _mm512_loadu_si512(w + b * block_bytes + kb * 64);
#pragma GCC unroll 4
    for (int s = 0; s < 4; ++s) {
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p) {
        accumulate_k<MR, NB>(packed, 8 * p + 2 * s, x, a.k, kb * 16 + 4 * s + p, plus, minus);
      }
    }
  }
  if (full_blocks * 16 < a.k) {  // the last, partial block: never read x past k
    __m512i packed[NB];
    for (int b = 0; b < NB; ++b) {
      packed[b] = _mm512_loadu_si512(w + b * block_bytes + full_blocks * 64);
    }
    for (int s = 0; s < 4; ++s) {
      for (int p = 0; p < 4; ++p) {
        const int64_t kk = full_blocks * 16 + 4 * s + p;
        if (kk < a.k) accumulate_k<MR, NB>(packed, 8 * p + 2 * s, x, a.k, kk, plus, minus);
      }
    }
  }
#pragma GCC unroll 4
  for (int b = 0; b < NB; ++b) {
    const int64_t c0 = n0 + 16 * b;
    const __mmask16 mask = column_mask(c0, a.n_end);
    const __m512 g = a.w_scale_per_channel ? _mm512_maskz_loadu_ps(mask, a.w_scale + c0)
                                           : _mm512_set1_ps(a.w_scale[0]);
    const __m512 bias =
        a.bias != nullptr ? _mm512_maskz_loadu_ps(mask, a.bias + c0) : _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      __m512 v = _mm512_mul_ps(_mm512_sub_ps(plus[r][b], minus[r][b]), g);
      if (a.bias != nullptr) v = _mm512_add_ps(v, bias);
      _mm512_mask_storeu_ps(a.y + (row0 + r) * a.n + c0, mask, v);
    }
  }
}

template <int MR>
void rows(const F32BlockedArgs& a, int64_t row0) {
  int64_t n0 = a.n_begin;
  for (; n0 + 16 < a.n_end; n0 += 32) tile<MR, 2>(a, row0, n0);
  if (n0 < a.n_end) tile<MR, 1>(a, row0, n0);
}

}  // namespace

void f32_t2w_gemm_ukernel_4x32__avx512f(const F32BlockedArgs& a) {
  int64_t row = 0;
  for (; row + 4 <= a.m; row += 4) rows<4>(a, row);
  switch (a.m - row) {
    case 3:
      rows<3>(a, row);
      break;
    case 2:
      rows<2>(a, row);
      break;
    case 1:
      rows<1>(a, row);
      break;
    default:
      break;
  }
}

}  // namespace internal
}  // namespace bitlab

#else  // compiled without AVX-512

namespace bitlab {
namespace internal {
void f32_t2w_gemm_ukernel_4x32__avx512f(const F32BlockedArgs&) { __builtin_trap(); }
}  // namespace internal
}  // namespace bitlab

#endif
