// float32 activations x ternary weights, over the blocked t2 layout the int8 kernels read
// (8 columns a block). No weight is ever multiplied: for each activation x of a tile's rows a
// 4-float table [-x, 0, x, 0] is built once in `scratch`, and vpermilps, whose control lane j
// holds column j's 2-bit code (q + 1) in its low bits, picks -x, 0 or x for each of 8 columns;
// one add accumulates it. Per k: one shift per column block to bring the next code to the low
// bits, then one table broadcast per row and one permute and one add per row and column block.
//
// Each output is summed in k order from +0.0, the same additions as the reference kernel, so
// for finite inputs the results are bit for bit the reference's.
#include <immintrin.h>

#include "bitcore/kernels/x86/avx2/ukernels.h"

#if defined(__AVX2__) && defined(__FMA__)

namespace bitlab {
namespace internal {
namespace {

// GCC at -O2 does not fully unroll the loops over a tile's rows, column blocks and k groups,
// and unless it does, the tile's arrays of vectors live in memory instead of registers.
#define BITLAB_UNROLL _Pragma("GCC unroll 16")

constexpr int kRows = static_cast<int>(kAvx2F32Rows);
static_assert(kRows == 4, "f32_t2w_gemm_ukernel_4x16__avx2 dispatches tiles of 1 to 4 rows");

float* row_tables(const F32BlockedArgs& a, int r) { return a.scratch + r * a.k_blocks * 16 * 4; }

// Writes the tables [-x, 0, x, 0] of rows row0..row0 + rows - 1, zero past K.
void build_tables(const F32BlockedArgs& a, int64_t row0, int rows) {
  const __m128 sign = _mm_set1_ps(-0.0f);
  const __m128 zero = _mm_setzero_ps();
  const int64_t k_padded = a.k_blocks * 16;
  for (int r = 0; r < rows; ++r) {
    const float* x = a.x + (row0 + r) * a.k;
    float* t = row_tables(a, r);
    int64_t k = 0;
    for (; k + 4 <= a.k; k += 4) {
      const __m128 v = _mm_loadu_ps(x + k);
      const __m128 neg = _mm_xor_ps(v, sign);
      const __m128 lo = _mm_unpacklo_ps(neg, v);  // -x0 x0 -x1 x1
      const __m128 hi = _mm_unpackhi_ps(neg, v);  // -x2 x2 -x3 x3
      _mm_store_ps(t + 4 * k, _mm_unpacklo_ps(lo, zero));
      _mm_store_ps(t + 4 * k + 4, _mm_unpackhi_ps(lo, zero));
      _mm_store_ps(t + 4 * k + 8, _mm_unpacklo_ps(hi, zero));
      _mm_store_ps(t + 4 * k + 12, _mm_unpackhi_ps(hi, zero));
    }
    for (; k < a.k; ++k) _mm_store_ps(t + 4 * k, _mm_setr_ps(-x[k], 0.0f, x[k], 0.0f));
    for (; k < k_padded; ++k) _mm_store_ps(t + 4 * k, zero);
  }
}

// y = acc * g + b for row r, columns n0.. (masked past n_end).
void store_columns(const F32BlockedArgs& a, int64_t r, int64_t n0, __m256 acc) {
  float* out = a.y + r * a.n + n0;
  if (n0 + 8 <= a.n_end) {
    const __m256 g =
        a.w_scale_per_channel ? _mm256_loadu_ps(a.w_scale + n0) : _mm256_set1_ps(a.w_scale[0]);
    __m256 v = _mm256_mul_ps(acc, g);
    if (a.bias != nullptr) v = _mm256_add_ps(v, _mm256_loadu_ps(a.bias + n0));
    _mm256_storeu_ps(out, v);
    return;
  }
  const int valid = static_cast<int>(a.n_end - n0);
  const __m256i mask =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256 g = a.w_scale_per_channel ? _mm256_maskload_ps(a.w_scale + n0, mask)
                                         : _mm256_set1_ps(a.w_scale[0]);
  __m256 v = _mm256_mul_ps(acc, g);
  if (a.bias != nullptr) v = _mm256_add_ps(v, _mm256_maskload_ps(a.bias + n0, mask));
  _mm256_maskstore_ps(out, mask, v);
}

// Rows row0..row0 + MR - 1 (their tables built), columns n0 .. n0 + 8 * NB - 1.
template <int MR, int NB>
void tile(const F32BlockedArgs& a, int64_t row0, int64_t n0) {
  const int64_t block_bytes = a.k_blocks * 32;
  const uint8_t* w = a.w + (n0 / 8) * block_bytes;
  const float* tables[MR];
  BITLAB_UNROLL for (int r = 0; r < MR; ++r) tables[r] = row_tables(a, r);

  __m256 acc[MR][NB] = {};

  for (int64_t kb = 0; kb < a.k_blocks; ++kb) {
    // Lane j of a block holds column j's codes: k = 16 kb + 4 s + p at bits 8 p + 2 s.
    __m256i group[NB];
    BITLAB_UNROLL for (int b = 0; b < NB; ++b) {
      group[b] =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + b * block_bytes + kb * 32));
    }
    BITLAB_UNROLL for (int s = 0; s < 4; ++s) {
      __m256i code[NB];
      BITLAB_UNROLL for (int b = 0; b < NB; ++b) code[b] = group[b];
      BITLAB_UNROLL for (int p = 0; p < 4; ++p) {
        const int64_t k = kb * 16 + 4 * s + p;
        BITLAB_UNROLL for (int r = 0; r < MR; ++r) {
          const __m256 t = _mm256_broadcast_ps(reinterpret_cast<const __m128*>(tables[r] + 4 * k));
          BITLAB_UNROLL for (int b = 0; b < NB; ++b) {
            acc[r][b] = _mm256_add_ps(acc[r][b], _mm256_permutevar_ps(t, code[b]));
          }
        }
        if (p < 3) {
          BITLAB_UNROLL for (int b = 0; b < NB; ++b) code[b] = _mm256_srli_epi32(code[b], 8);
        }
      }
      if (s < 3) {
        BITLAB_UNROLL for (int b = 0; b < NB; ++b) group[b] = _mm256_srli_epi32(group[b], 2);
      }
    }
  }
  BITLAB_UNROLL for (int r = 0; r < MR; ++r) {
    BITLAB_UNROLL for (int b = 0; b < NB; ++b) {
      store_columns(a, row0 + r, n0 + 8 * b, acc[r][b]);
    }
  }
}

template <int MR>
void columns(const F32BlockedArgs& a, int64_t row0) {
  int64_t n0 = a.n_begin;
  // One row has too few independent sums for two column blocks to hide the add latency.
  if (MR == 1) {
    for (; n0 + 24 < a.n_end; n0 += 32) tile<MR, 4>(a, row0, n0);
  }
  for (; n0 + 8 < a.n_end; n0 += 16) tile<MR, 2>(a, row0, n0);
  if (n0 < a.n_end) tile<MR, 1>(a, row0, n0);
}

#undef BITLAB_UNROLL

}  // namespace

void f32_t2w_gemm_ukernel_4x16__avx2(const F32BlockedArgs& a) {
  for (int64_t row0 = 0; row0 < a.m; row0 += kRows) {
    const int rows = a.m - row0 < kRows ? static_cast<int>(a.m - row0) : kRows;
    build_tables(a, row0, rows);
    switch (rows) {
      case 4:
        columns<4>(a, row0);
        break;
      case 3:
        columns<3>(a, row0);
        break;
      case 2:
        columns<2>(a, row0);
        break;
      case 1:
        columns<1>(a, row0);
        break;
      default:
        break;
    }
  }
}

}  // namespace internal
}  // namespace bitlab

#else  // compiled without AVX2

namespace bitlab {
namespace internal {
void f32_t2w_gemm_ukernel_4x16__avx2(const F32BlockedArgs&) { __builtin_trap(); }
}  // namespace internal
}  // namespace bitlab

#endif
