// Batches of 4 and more: compute-bound, so the weights of 16 columns are decoded once into
// `scratch` (plain codes 0..2, one byte a weight, 32 bytes per 8 columns x 4 k) and every
// 4-row tile then runs only loads, broadcasts, vpmaddubsw and int16 adds: per 4 k, 2 code
// loads and 4 activation broadcasts feed 8 products into 8 int16 accumulators, widened to
// int32 with vpmaddwd once every kInt16KBlocks blocks of 16 k.
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

constexpr int kRows = 4;

// Decodes NB column blocks starting at n0 into scratch[b][kb][s] (32 bytes each).
template <int NB>
void unpack_codes(const Qd8BlockedArgs& a, int64_t n0) {
  const __m256i three = _mm256_set1_epi8(3);
  const int64_t block_bytes = a.k_blocks * 32;
  BITLAB_UNROLL for (int b = 0; b < NB; ++b) {
    const uint8_t* w = a.w + (n0 / 8 + b) * block_bytes;
    uint8_t* out = a.scratch + b * a.k_blocks * 128;
    for (int64_t kb = 0; kb < a.k_blocks; ++kb) {
      __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + kb * 32));
      BITLAB_UNROLL for (int s = 0; s < 4; ++s) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(out + kb * 128 + s * 32),
                           _mm256_and_si256(packed, three));
        packed = _mm256_srli_epi16(packed, 2);
      }
    }
  }
}

template <int MR, int NB>
void gemm_tile(const Qd8BlockedArgs& a, int64_t row0, int64_t n0) {
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t groups = a.k_blocks * 4;
  const int64_t chunk = kInt16KBlocks * 4;
  const int8_t* x = a.x + row0 * a.x_stride;
  const uint8_t* codes_base = a.scratch;
  const int64_t codes_stride = a.k_blocks * 128;

  __m256i acc[MR][NB] = {};

  for (int64_t g0 = 0; g0 < groups; g0 += chunk) {
    const int64_t g1 = groups - g0 > chunk ? g0 + chunk : groups;
    __m256i sum[MR][NB] = {};
    for (int64_t g = g0; g < g1; ++g) {
      __m256i codes[NB];
      BITLAB_UNROLL for (int b = 0; b < NB; ++b) {
        codes[b] = _mm256_load_si256(
            reinterpret_cast<const __m256i*>(codes_base + b * codes_stride + g * 32));
      }
      BITLAB_UNROLL for (int r = 0; r < MR; ++r) {
        const __m256i xs = _mm256_set1_epi32(load_i32(x + r * a.x_stride + g * 4));
        BITLAB_UNROLL for (int b = 0; b < NB; ++b) {
          sum[r][b] = _mm256_add_epi16(sum[r][b], _mm256_maddubs_epi16(codes[b], xs));
          // An empty asm that "changes" the sum: it pins each add where it is written. Without
          // it GCC computes all 8 products first, runs out of the 16 ymm registers and spills
          // a sum in the inner loop (measured: about 15% slower).
          __asm__("" : "+x"(sum[r][b]));
        }
      }
    }
    BITLAB_UNROLL for (int r = 0; r < MR; ++r) {
      BITLAB_UNROLL for (int b = 0; b < NB; ++b) {
        acc[r][b] = _mm256_add_epi32(acc[r][b], _mm256_madd_epi16(sum[r][b], ones));
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

template <int NB>
void gemm_columns(const Qd8BlockedArgs& a, int64_t n0) {
  unpack_codes<NB>(a, n0);
  int64_t row = 0;
  for (; row + kRows <= a.m; row += kRows) gemm_tile<kRows, NB>(a, row, n0);
  switch (a.m - row) {
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

#undef BITLAB_UNROLL

}  // namespace

void qd8_t2w_gemm_ukernel_4x16c4__avx2(const Qd8BlockedArgs& a) {
  int64_t n0 = a.n_begin;
  for (; n0 + 8 < a.n_end; n0 += 16) gemm_columns<2>(a, n0);
  if (n0 < a.n_end) gemm_columns<1>(a, n0);
}

}  // namespace internal
}  // namespace bitlab

#else  // compiled without AVX2

namespace bitlab {
namespace internal {
void qd8_t2w_gemm_ukernel_4x16c4__avx2(const Qd8BlockedArgs&) { __builtin_trap(); }
}  // namespace internal
}  // namespace bitlab

#endif
