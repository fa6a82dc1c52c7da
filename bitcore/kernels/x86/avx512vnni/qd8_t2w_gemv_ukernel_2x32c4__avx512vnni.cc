// Batch 1..3: stream each weight byte once, decode it with masks, and keep the activations in
// L1. Memory-bound, so the inner loop does the least work per weight byte: one 64-byte load,
// four masks (no shifts: group s stays scaled by 4^s in its own accumulator and is shifted back
// once at the end), four dot products whose activation operand is a broadcast from memory.
#include <immintrin.h>

#include "bitcore/kernels/x86/avx512vnni/ukernels.h"

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)

namespace bitlab {
namespace internal {
namespace {

#include "bitcore/kernels/x86/avx512vnni/epilogue.inc"

// acc[s] holds 4^s * sum(code * x) for k group s; undo the scaling and the +1 code offset.
inline __m512i combine(const __m512i acc[4], int32_t row_sum) {
  __m512i total = acc[0];
  total = _mm512_add_epi32(total, _mm512_srai_epi32(acc[1], 2));
  total = _mm512_add_epi32(total, _mm512_srai_epi32(acc[2], 4));
  total = _mm512_add_epi32(total, _mm512_srai_epi32(acc[3], 6));
  return _mm512_sub_epi32(total, _mm512_set1_epi32(row_sum));
}

template <int MR, int NB>
void gemv_tile(const Qd8BlockedArgs& a, int64_t row0, int64_t n0) {
  const __m512i mask[4] = {_mm512_set1_epi8(0x03), _mm512_set1_epi8(0x0C), _mm512_set1_epi8(0x30),
                           _mm512_set1_epi8(static_cast<char>(0xC0))};
  const int64_t block_bytes = a.k_blocks * 64;
  const uint8_t* w = a.w + (n0 / 16) * block_bytes;
  __m512i acc[MR][NB][4];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 16
    for (int b = 0; b < NB; ++b)
#pragma GCC unroll 16
      for (int s = 0; s < 4; ++s) acc[r][b][s] = _mm512_setzero_si512();

  for (int64_t kb = 0; kb < a.k_blocks; ++kb) {
    __m512i codes[NB][4];
#pragma GCC unroll 16
    for (int b = 0; b < NB; ++b) {
      const __m512i packed = _mm512_loadu_si512(w + b * block_bytes + kb * 64);
#pragma GCC unroll 16
      for (int s = 0; s < 4; ++s) codes[b][s] = _mm512_and_si512(packed, mask[s]);
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const int8_t* x = a.x + (row0 + r) * a.x_stride + kb * 16;
#pragma GCC unroll 16
      for (int s = 0; s < 4; ++s) {
        const __m512i xs = _mm512_set1_epi32(load_i32(x + 4 * s));
#pragma GCC unroll 16
        for (int b = 0; b < NB; ++b) {
          acc[r][b][s] = _mm512_dpbusd_epi32(acc[r][b][s], codes[b][s], xs);
        }
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 16
    for (int b = 0; b < NB; ++b) {
      store_columns(a, row0 + r, n0 + 16 * b, combine(acc[r][b], a.row_sums[row0 + r]));
    }
  }
}

template <int MR>
void gemv_rows(const Qd8BlockedArgs& a, int64_t row0) {
  int64_t n0 = a.n_begin;
  for (; n0 + 16 < a.n_end; n0 += 32) gemv_tile<MR, 2>(a, row0, n0);
  if (n0 < a.n_end) gemv_tile<MR, 1>(a, row0, n0);
}

}  // namespace

bool avx512vnni_ukernels_compiled_in() { return true; }

void qd8_t2w_gemv_ukernel_2x32c4__avx512vnni(const Qd8BlockedArgs& a) {
  int64_t row = 0;
  for (; row + 2 <= a.m; row += 2) gemv_rows<2>(a, row);
  if (row < a.m) gemv_rows<1>(a, row);
}

}  // namespace internal
}  // namespace bitlab

#else  // compiled without AVX512-VNNI

namespace bitlab {
namespace internal {
bool avx512vnni_ukernels_compiled_in() { return false; }
void qd8_t2w_gemv_ukernel_2x32c4__avx512vnni(const Qd8BlockedArgs&) { __builtin_trap(); }
}  // namespace internal
}  // namespace bitlab

#endif
