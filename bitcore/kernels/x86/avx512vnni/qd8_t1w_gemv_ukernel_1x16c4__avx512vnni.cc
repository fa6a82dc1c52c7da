// Batch 1..3 over 1.6-bit (base-3) weights: each 64-byte load brings 16 columns x 20 k. Trit i
// of every byte is looked up in a 256-entry table (two vpermi2b over 128 entries each, chosen
// by the byte's top bit), which yields the codes of k group i for a vpdpbusd. Five independent
// accumulators per column block, one per trit position, keep the dot products in flight.
#include <immintrin.h>

#include "bitcore/kernels/x86/avx512vnni/ukernels.h"

#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VBMI__)

namespace bitlab {
namespace internal {
namespace {

#include "bitcore/kernels/x86/avx512vnni/epilogue.inc"

// kTrits.table[i][v] = trit i of v (v = sum code_i 3^i); unused values 243..255 decode to 1.
struct TritTables {
  alignas(64) uint8_t table[5][256];
  constexpr TritTables() : table{} {
    for (int v = 0; v < 256; ++v) {
      int rest = v;
      for (int i = 0; i < 5; ++i) {
        table[i][v] = static_cast<uint8_t>(v < 243 ? rest % 3 : 1);
        rest /= 3;
      }
    }
  }
};
constexpr TritTables kTrits;

inline __m512i decode_trit(const uint8_t* table, __m512i bytes, __mmask64 high) {
  const __m512i low_half =
      _mm512_permutex2var_epi8(_mm512_load_si512(table), bytes, _mm512_load_si512(table + 64));
  const __m512i high_half = _mm512_permutex2var_epi8(_mm512_load_si512(table + 128), bytes,
                                                     _mm512_load_si512(table + 192));
  return _mm512_mask_blend_epi8(high, low_half, high_half);
}

template <int MR>
void gemv_block(const Qd8BlockedArgs& a, int64_t row0, int64_t n0) {
  const uint8_t* w = a.w + (n0 / 16) * a.k_blocks * 64;
  __m512i acc[MR][5];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 5
    for (int i = 0; i < 5; ++i) acc[r][i] = _mm512_setzero_si512();
  for (int64_t kb = 0; kb < a.k_blocks; ++kb) {
    const __m512i bytes = _mm512_loadu_si512(w + kb * 64);
    const __mmask64 high = _mm512_movepi8_mask(bytes);
#pragma GCC unroll 5
    for (int i = 0; i < 5; ++i) {
      const __m512i codes = decode_trit(kTrits.table[i], bytes, high);
#pragma GCC unroll 4
      for (int r = 0; r < MR; ++r) {
        const int8_t* x = a.x + (row0 + r) * a.x_stride + kb * 20 + 4 * i;
        acc[r][i] = _mm512_dpbusd_epi32(acc[r][i], codes, _mm512_set1_epi32(load_i32(x)));
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) {
    __m512i total = _mm512_add_epi32(_mm512_add_epi32(acc[r][0], acc[r][1]),
                                     _mm512_add_epi32(acc[r][2], acc[r][3]));
    total = _mm512_add_epi32(total, acc[r][4]);
    total = _mm512_sub_epi32(total, _mm512_set1_epi32(a.row_sums[row0 + r]));
    store_columns(a, row0 + r, n0, total);
  }
}

template <int MR>
void gemv_rows(const Qd8BlockedArgs& a, int64_t row0) {
  for (int64_t n0 = a.n_begin; n0 < a.n_end; n0 += 16) gemv_block<MR>(a, row0, n0);
}

}  // namespace

bool avx512vbmi_ukernels_compiled_in() { return true; }

void qd8_t1w_gemv_ukernel_1x16c4__avx512vnni(const Qd8BlockedArgs& a) {
  int64_t row = 0;
  for (; row + 2 <= a.m; row += 2) gemv_rows<2>(a, row);
  if (row < a.m) gemv_rows<1>(a, row);
}

}  // namespace internal
}  // namespace bitlab

#else  // compiled without AVX512-VNNI and AVX512-VBMI

namespace bitlab {
namespace internal {
bool avx512vbmi_ukernels_compiled_in() { return false; }
void qd8_t1w_gemv_ukernel_1x16c4__avx512vnni(const Qd8BlockedArgs&) { __builtin_trap(); }
}  // namespace internal
}  // namespace bitlab

#endif
