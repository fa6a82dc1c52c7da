// Batches of 4 and more: compute-bound, so weights are decoded once per 32 columns into
// `scratch` (plain codes 0..2, one byte a weight, 64 bytes per 16 columns x 4 k) and every
// 8-row tile then runs only loads, broadcasts and dot products: 16 vpdpbusd per 8 activation
// broadcasts and 2 code loads. K is walked in cache blocks so codes and activations stay in L1.
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

// At most this many groups of 4 k per cache block: 192 groups keep a block's codes (2 x 12 KB)
// and an 8-row activation tile (6 KB) in a 48 KB L1 while every row tile of the batch passes
// over them. Blocks are balanced (K = 576 is one block of 144 groups, not 128 and 16), so no
// short tail block pays the partial sums' trip through memory for little work.
constexpr int64_t kMaxGroupsPerBlock = 192;

// Rows row0..row0+MR of columns n0..n0+16*NB over k groups [g_begin, g_end). Partial sums
// carry between k blocks in `partial` (MR x 32 int32 per tile); the last block rescales.
template <int MR, int NB>
void gemm_tile(const Qd8BlockedArgs& a, int64_t row0, int64_t n0, int64_t g_begin, int64_t g_end) {
  const bool first = g_begin == 0;
  const bool last = g_end == a.k_blocks * 4;
  int32_t* partial = reinterpret_cast<int32_t*>(a.scratch + 2 * a.k_blocks * 256) + row0 * 32;
  __m512i acc[MR][NB];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 16
    for (int b = 0; b < NB; ++b)
      acc[r][b] = first ? _mm512_setzero_si512() : _mm512_load_si512(partial + r * 32 + b * 16);
  const int8_t* x = a.x + row0 * a.x_stride;
  for (int64_t g = g_begin; g < g_end; ++g) {
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
      if (last) {
        store_columns(a, row0 + r, n0 + 16 * b, _mm512_sub_epi32(acc[r][b], row_sum));
      } else {
        _mm512_store_si512(partial + r * 32 + b * 16, acc[r][b]);
      }
    }
  }
}

template <int NB>
void gemm_columns(const Qd8BlockedArgs& a, int64_t n0) {
  using Tile = void (*)(const Qd8BlockedArgs&, int64_t, int64_t, int64_t, int64_t);
  static constexpr Tile kTailTiles[8] = {nullptr,          gemm_tile<1, NB>, gemm_tile<2, NB>,
                                         gemm_tile<3, NB>, gemm_tile<4, NB>, gemm_tile<5, NB>,
                                         gemm_tile<6, NB>, gemm_tile<7, NB>};
  unpack_codes<NB>(a, n0);
  const int64_t groups = a.k_blocks * 4;
  const int64_t blocks = (groups + kMaxGroupsPerBlock - 1) / kMaxGroupsPerBlock;
  const int64_t groups_per_block = (groups + blocks - 1) / blocks;
  for (int64_t g = 0; g < groups; g += groups_per_block) {
    const int64_t g_end = g + groups_per_block < groups ? g + groups_per_block : groups;
    int64_t row = 0;
    for (; row + 8 <= a.m; row += 8) gemm_tile<8, NB>(a, row, n0, g, g_end);
    if (row < a.m) kTailTiles[a.m - row](a, row, n0, g, g_end);
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
