// Batch 1..3: stream each weight byte once per 3 rows and decode it on the fly; the
// activations stay in L1. Per 32-byte block (8 columns x 16 k): one load, one 16-bit shift and
// four masks (0x03 and 0x0C, before and after the shift) give the codes of the four k groups,
// shared by every row of the tile; groups 1 and 3 stay scaled by 4 and go to int16 sums of
// their own, shifted back once they are widened. Per row and group: one activation broadcast,
// one vpmaddubsw and one int16 add. The int16 sums are widened to int32 (vpmaddwd with ones)
// every kChunkKBlocks blocks, before they could overflow. Two column blocks a tile.
// (Measured against three shifts and four masks into one sum: about 10% faster at batch 1.)
#include <immintrin.h>

#include "bitcore/kernels/x86/avx2/ukernels.h"

#if defined(__AVX2__) && defined(__FMA__)

namespace bitlab {
namespace internal {
namespace {

// GCC at -O2 does not fully unroll the loops over a tile's rows, column blocks and k groups,
// and unless it does, the tile's arrays of vectors live in memory instead of registers.
#define BITLAB_UNROLL _Pragma("GCC unroll 16")

#include "bitcore/kernels/x86/avx2/epilogue.inc"

// Blocks of 16 k the split int16 sums below can take: per block, `even` gains at most 2 * 512
// and `odd` (codes scaled by 4) at most 2 * 4 * 512 in magnitude; 7 * 4096 = 28672 <= 32767.
constexpr int64_t kChunkKBlocks = 7;

template <int MR, int NB>
void gemv_tile(const Qd8BlockedArgs& a, int64_t row0, int64_t n0) {
  const __m256i low_code = _mm256_set1_epi8(0x03);
  const __m256i high_code = _mm256_set1_epi8(0x0C);
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t block_bytes = a.k_blocks * 32;
  const uint8_t* w = a.w + (n0 / 8) * block_bytes;
  const int8_t* x[MR];
  BITLAB_UNROLL for (int r = 0; r < MR; ++r) x[r] = a.x + (row0 + r) * a.x_stride;

  __m256i acc[MR][NB] = {};
  for (int64_t kb0 = 0; kb0 < a.k_blocks; kb0 += kChunkKBlocks) {
    const int64_t kb1 = a.k_blocks - kb0 > kChunkKBlocks ? kb0 + kChunkKBlocks : a.k_blocks;
    // even: k groups 0 and 2; odd: groups 1 and 3, whose codes stay scaled by 4.
    __m256i even[MR][NB] = {};
    __m256i odd[MR][NB] = {};
    for (int64_t kb = kb0; kb < kb1; ++kb) {
      __m256i codes[NB][4];
      BITLAB_UNROLL for (int b = 0; b < NB; ++b) {
        const __m256i packed =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + b * block_bytes + kb * 32));
        const __m256i high = _mm256_srli_epi16(packed, 4);
        codes[b][0] = _mm256_and_si256(packed, low_code);
        codes[b][1] = _mm256_and_si256(packed, high_code);  // 4 * code, at most 8
        codes[b][2] = _mm256_and_si256(high, low_code);
        codes[b][3] = _mm256_and_si256(high, high_code);
      }
      BITLAB_UNROLL for (int r = 0; r < MR; ++r) {
        BITLAB_UNROLL for (int s = 0; s < 4; ++s) {
          const __m256i xs = _mm256_set1_epi32(load_i32(x[r] + kb * 16 + 4 * s));
          BITLAB_UNROLL for (int b = 0; b < NB; ++b) {
            const __m256i product = _mm256_maddubs_epi16(codes[b][s], xs);
            if (s % 2 == 0) {
              even[r][b] = _mm256_add_epi16(even[r][b], product);
            } else {
              odd[r][b] = _mm256_add_epi16(odd[r][b], product);
            }
          }
        }
      }
    }
    // Widen to int32; `odd` is a multiple of 4 lane by lane, so the shift is exact.
    BITLAB_UNROLL for (int r = 0; r < MR; ++r) {
      BITLAB_UNROLL for (int b = 0; b < NB; ++b) {
        const __m256i odd32 = _mm256_srai_epi32(_mm256_madd_epi16(odd[r][b], ones), 2);
        acc[r][b] = _mm256_add_epi32(acc[r][b], _mm256_madd_epi16(even[r][b], ones));
        acc[r][b] = _mm256_add_epi32(acc[r][b], odd32);
      }
    }
  }
  BITLAB_UNROLL for (int r = 0; r < MR; ++r) {
    const __m256i row_sum = _mm256_set1_epi32(a.row_sums[row0 + r]);
    BITLAB_UNROLL for (int b = 0; b < NB; ++b) {
      store_columns(a, row0 + r, n0 + 8 * b, _mm256_sub_epi32(acc[r][b], row_sum));
    }
  }
}

template <int MR>
void gemv_rows(const Qd8BlockedArgs& a, int64_t row0) {
  int64_t n0 = a.n_begin;
  for (; n0 + 8 < a.n_end; n0 += 16) gemv_tile<MR, 2>(a, row0, n0);
  if (n0 < a.n_end) gemv_tile<MR, 1>(a, row0, n0);
}

#undef BITLAB_UNROLL

}  // namespace

bool avx2_ukernels_compiled_in() { return true; }

void qd8_t2w_gemv_ukernel_3x16c4__avx2(const Qd8BlockedArgs& a) {
  int64_t row = 0;
  for (; row + 3 <= a.m; row += 3) gemv_rows<3>(a, row);
  if (a.m - row == 2) gemv_rows<2>(a, row);
  if (a.m - row == 1) gemv_rows<1>(a, row);
}

}  // namespace internal
}  // namespace bitlab

#else  // compiled without AVX2

namespace bitlab {
namespace internal {
bool avx2_ukernels_compiled_in() { return false; }
void qd8_t2w_gemv_ukernel_3x16c4__avx2(const Qd8BlockedArgs&) { __builtin_trap(); }
}  // namespace internal
}  // namespace bitlab

#endif
