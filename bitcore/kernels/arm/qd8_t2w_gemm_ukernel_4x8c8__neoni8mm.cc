// int8 activations x ternary weights with the int8 matrix multiply extension (+i8mm: smmla),
// c8 layout (8 columns x 32 k a 64-byte block, blocked_t2c8_packing.h). smmla multiplies a
// 2 x 8 block of activations (two rows, 8 consecutive k) by 8 k of two weight columns into a
// 2 x 2 int32 tile. Per block and k group: four weight registers (column pairs) from a shift
// and a mask each, shared by the tile's row pairs; per row pair, one activation register (two
// 8-byte loads) and four smmla. An odd last row pairs with itself and half of its tile is
// dropped, so one row (the matrix-vector case) costs what two do.
#include "bitcore/kernels/arm/ukernels.h"

#if defined(__aarch64__) && defined(__ARM_FEATURE_MATMUL_INT8)

#include <arm_neon.h>

namespace bitlab {
namespace internal {
namespace {

#include "bitcore/kernels/arm/epilogue.inc"
#include "bitcore/kernels/arm/group_codes.inc"

#define BITLAB_UNROLL _Pragma("GCC unroll 8")

constexpr int kPairs = 2;

// Accumulator sets: two for a single row pair, so the four smmla of a block into a column
// pair's tile form two latency chains instead of one (four sets would spill).
template <int P>
constexpr int kSets = P == 1 ? 2 : 1;

// acc[p][c]: rows 2p, 2p + 1 x columns 2c, 2c + 1, lanes (r0 c0, r0 c1, r1 c0, r1 c1).
template <int P, int S>
void group_step(const uint8x16_t (&w)[4], const int8_t* const (&x)[P][2], int64_t k0,
                int32x4_t (&acc)[P][kSets<P>][4]) {
  int8x16_t c[4];
  BITLAB_UNROLL for (int j = 0; j < 4; ++j) c[j] = signed_codes<S>(w[j]);
  BITLAB_UNROLL for (int p = 0; p < P; ++p) {
    const int8x16_t xs = vcombine_s8(vld1_s8(x[p][0] + k0 + 8 * S), vld1_s8(x[p][1] + k0 + 8 * S));
    constexpr int set = S % kSets<P>;
    BITLAB_UNROLL for (int j = 0; j < 4; ++j) {
      acc[p][set][j] = vmmlaq_s32(acc[p][set][j], xs, c[j]);
    }
  }
}

// Rows row0 .. row0 + rows - 1 (rows <= 2 * P, all pairs full but maybe the last).
template <int P>
void tile(const Qd8BlockedArgs& a, int64_t row0, int rows, int64_t n0) {
  const uint8_t* w = a.w + (n0 / 8) * a.k_blocks * 64;
  const int8_t* x[P][2];
  BITLAB_UNROLL for (int p = 0; p < P; ++p) {
    x[p][0] = a.x + (row0 + 2 * p) * a.x_stride;
    x[p][1] = 2 * p + 1 < rows ? x[p][0] + a.x_stride : x[p][0];
  }
  int32x4_t acc[P][kSets<P>][4];
  BITLAB_UNROLL for (int p = 0; p < P; ++p) {
    BITLAB_UNROLL for (int i = 0; i < kSets<P>; ++i) {
      BITLAB_UNROLL for (int j = 0; j < 4; ++j) acc[p][i][j] = vdupq_n_s32(0);
    }
  }
  for (int64_t kb = 0; kb < a.k_blocks; ++kb) {
    uint8x16_t wk[4];
    BITLAB_UNROLL for (int j = 0; j < 4; ++j) wk[j] = vld1q_u8(w + kb * 64 + 16 * j);
    group_step<P, 0>(wk, x, kb * 32, acc);
    group_step<P, 1>(wk, x, kb * 32, acc);
    group_step<P, 2>(wk, x, kb * 32, acc);
    group_step<P, 3>(wk, x, kb * 32, acc);
  }
  BITLAB_UNROLL for (int p = 0; p < P; ++p) {
    int32x4_t total[4];
    BITLAB_UNROLL for (int j = 0; j < 4; ++j) {
      total[j] = acc[p][0][j];
      BITLAB_UNROLL for (int i = 1; i < kSets<P>; ++i) total[j] = vaddq_s32(total[j], acc[p][i][j]);
    }
    BITLAB_UNROLL for (int half = 0; half < 2; ++half) {  // columns 0-3, 4-7
      const int64x2_t lo = vreinterpretq_s64_s32(total[2 * half]);
      const int64x2_t hi = vreinterpretq_s64_s32(total[2 * half + 1]);
      const int64_t n = n0 + 4 * half;
      const int64_t r0 = row0 + 2 * p;
      store_columns(
          a, r0, n,
          vsubq_s32(vreinterpretq_s32_s64(vzip1q_s64(lo, hi)), vdupq_n_s32(a.row_sums[r0])));
      if (2 * p + 1 < rows) {
        store_columns(
            a, r0 + 1, n,
            vsubq_s32(vreinterpretq_s32_s64(vzip2q_s64(lo, hi)), vdupq_n_s32(a.row_sums[r0 + 1])));
      }
    }
  }
}

template <int P>
void rows(const Qd8BlockedArgs& a, int64_t row0, int rows) {
  for (int64_t n0 = a.n_begin; n0 < a.n_end; n0 += 8) tile<P>(a, row0, rows, n0);
}

#undef BITLAB_UNROLL

}  // namespace

bool neoni8mm_ukernels_compiled_in() { return true; }

void qd8_t2w_gemm_ukernel_4x8c8__neoni8mm(const Qd8BlockedArgs& a) {
  for (int64_t row = 0; row < a.m; row += 2 * kPairs) {
    const int count = a.m - row < 2 * kPairs ? static_cast<int>(a.m - row) : 2 * kPairs;
    if (count > 2) {
      rows<kPairs>(a, row, count);
    } else {
      rows<1>(a, row, count);
    }
  }
}

}  // namespace internal
}  // namespace bitlab

#else  // compiled without the int8 matrix multiply extension

namespace bitlab {
namespace internal {
bool neoni8mm_ukernels_compiled_in() { return false; }
void qd8_t2w_gemm_ukernel_4x8c8__neoni8mm(const Qd8BlockedArgs&) { __builtin_trap(); }
}  // namespace internal
}  // namespace bitlab

#endif
