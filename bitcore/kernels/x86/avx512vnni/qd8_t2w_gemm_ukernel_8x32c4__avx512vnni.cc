// Batches of 4 and more: compute-bound, so weights are decoded once per 32 columns into
// `scratch` (plain codes 0..2, one byte a weight, 64 bytes per 16 columns x 4 k) and every
// 8-row tile then runs only loads, broadcasts and dot products: 16 vpdpbusd per 8 activation
// broadcasts and 2 code loads.
#include <immintrin.h>

#include "bitcore/kernels/x86/avx512vnni/ukernels.h"

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)

namespace bitlab {
namespace internal {
namespace {

#include "bitcore/kernels/x86/avx512vnni/epilogue.inc"

// Decodes NB column blocks starting at n0 into scratch[b][kb][s] (64 bytes each).
template <int NB>
void unpack_codes(const Qd8BlockedArgs& a, int64_t n0) {
  const __m512i three = _mm512_set1_epi8(3);
  const int64_t block_bytes = a.k_blocks * 64;
#pragma GCC unroll 16
  for (int b = 0; b < NB; ++b) {
    const uint8_t* w = a.w + (n0 / 16 + b) * block_bytes;
    uint8_t* out = a.scratch + b * a.k_blocks * 256;
    for (int64_t kb = 0; kb < a.k_blocks; ++kb) {
      const __m512i packed = _mm512_loadu_si512(w + kb * 64);
      _mm512_store_si512(out + kb * 256, _mm512_and_si512(packed, three));
      _mm512_store_si512(out + kb * 256 + 64,
                         _mm512_and_si512(_mm512_srli_epi16(packed, 2), three));
      _mm512_store_si512(out + kb * 256 + 128,
                         _mm512_and_si512(_mm512_srli_epi16(packed, 4), three));
      _mm512_store_si512(out + kb * 256 + 192,
                         _mm512_and_si512(_mm512_srli_epi16(packed, 6), three));
    }
  }
}

template <int MR, int NB>
void gemm_tile(const Qd8BlockedArgs& a, int64_t row0, int64_t n0) {
  __m512i acc[MR][NB];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 16
    for (int b = 0; b < NB; ++b) acc[r][b] = _mm512_setzero_si512();
  const int64_t groups = a.k_blocks * 4;
  const int8_t* x = a.x + row0 * a.x_stride;
  for (int64_t g = 0; g < groups; ++g) {
    __m512i codes[NB];
#pragma GCC unroll 16
    for (int b = 0; b < NB; ++b) {
      codes[b] = _mm512_load_si512(a.scratch + b * a.k_blocks * 256 + g * 64);
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512i xs = _mm512_set1_epi32(load_i32(x + r * a.x_stride + g * 4));
#pragma GCC unroll 16
      for (int b = 0; b < NB; ++b) acc[r][b] = _mm512_dpbusd_epi32(acc[r][b], codes[b], xs);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    const __m512i row_sum = _mm512_set1_epi32(a.row_sums[row0 + r]);
#pragma GCC unroll 16
    for (int b = 0; b < NB; ++b) {
      store_columns(a, row0 + r, n0 + 16 * b, _mm512_sub_epi32(acc[r][b], row_sum));
    }
  }
}

template <int NB>
void gemm_columns(const Qd8BlockedArgs& a, int64_t n0) {
  unpack_codes<NB>(a, n0);
  int64_t row = 0;
  for (; row + 8 <= a.m; row += 8) gemm_tile<8, NB>(a, row, n0);
  switch (a.m - row) {
    case 7:
      gemm_tile<7, NB>(a, row, n0);
      break;
    case 6:
      gemm_tile<6, NB>(a, row, n0);
      break;
    case 5:
      gemm_tile<5, NB>(a, row, n0);
      break;
    case 4:
      gemm_tile<4, NB>(a, row, n0);
      break;
    case 3:
      gemm_tile<3, NB>(a, row, n0);
      break;
    case 2:
      gemm_tile<2, NB>(a, row, n0);
      break;
    case 1:
      gemm_tile<1, NB>(a, row, n0);
      break;
    default:
      break;
  }
}

}  // namespace

void qd8_t2w_gemm_ukernel_8x32c4__avx512vnni(const Qd8BlockedArgs& a) {
  int64_t n0 = a.n_begin;
  for (; n0 + 16 < a.n_end; n0 += 32) gemm_columns<2>(a, n0);
  if (n0 < a.n_end) gemm_columns<1>(a, n0);
}

}  // namespace internal
}  // namespace bitlab

#else  // compiled without AVX512-VNNI

namespace bitlab {
namespace internal {
void qd8_t2w_gemm_ukernel_8x32c4__avx512vnni(const Qd8BlockedArgs&) { __builtin_trap(); }
}  // namespace internal
}  // namespace bitlab

#endif
