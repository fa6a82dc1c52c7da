// int8 activations x ternary weights with plain NEON (armv8-a: every aarch64 CPU), c4 layout
// (8 columns x 16 k a 32-byte block, bitcore/kernels/x86/blocked_t2_packing.h). Per block, the
// two 16-byte weight registers give each k group's codes with a shift and a mask; per row and
// k group, one 4-byte activation broadcast (ld1r) and four smlal (int8 x int8 -> int16) add
// the products of 8 columns x 4 k into int16 sums, which sadalp widens into int32 every
// kNeonInt16KBlocks blocks. A last pairwise add turns the (column, k mod 4) lanes into columns.
#include "bitcore/kernels/arm/ukernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

#include <cstring>

#include <arm_neon.h>

namespace bitlab {
namespace internal {
namespace {

#include "bitcore/kernels/arm/epilogue.inc"
#include "bitcore/kernels/arm/group_codes.inc"

// GCC at -O2 does not fully unroll the loops over a tile's rows, and unless it does, the
// tile's arrays of vectors live in memory instead of registers.
#define BITLAB_UNROLL _Pragma("GCC unroll 8")

constexpr int kRows = 4;

// int16 sum sets a tile keeps: for 1 row one per k group, so the smlal into a register are
// not one latency chain; more rows have independent sums already (and more sets would spill).
template <int MR>
constexpr int kSets = MR == 1 ? 4 : 1;

// 4 activations broadcast to the 4 int32 lanes.
int8x16_t broadcast4(const int8_t* x) {
  int32_t v;
  std::memcpy(&v, x, sizeof(v));
  return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

// One k group S of a block for every row: sum[r][set][h] gains the products of columns 2h and
// 2h + 1.
template <int MR, int S>
void group_step(uint8x16_t w0, uint8x16_t w1, const int8_t* const* x, int64_t k0,
                int16x8_t (&sum)[MR][kSets<MR>][4]) {
  const int8x16_t c0 = signed_codes<S>(w0);
  const int8x16_t c1 = signed_codes<S>(w1);
  constexpr int set = S % kSets<MR>;
  BITLAB_UNROLL for (int r = 0; r < MR; ++r) {
    const int8x16_t xs = broadcast4(x[r] + k0 + 4 * S);
    int16x8_t(&s)[4] = sum[r][set];
    s[0] = vmlal_s8(s[0], vget_low_s8(c0), vget_low_s8(xs));  // columns 0, 1
    s[1] = vmlal_high_s8(s[1], c0, xs);                       // columns 2, 3
    s[2] = vmlal_s8(s[2], vget_low_s8(c1), vget_low_s8(xs));  // columns 4, 5
    s[3] = vmlal_high_s8(s[3], c1, xs);                       // columns 6, 7
  }
}

template <int MR>
void tile(const Qd8BlockedArgs& a, int64_t row0, int64_t n0) {
  const uint8_t* w = a.w + (n0 / 8) * a.k_blocks * 32;
  const int8_t* x[MR];
  BITLAB_UNROLL for (int r = 0; r < MR; ++r) x[r] = a.x + (row0 + r) * a.x_stride;

  // acc[r][h] lanes: (column 2h, k 0-1), (2h, k 2-3), (2h + 1, k 0-1), (2h + 1, k 2-3), k mod 4.
  int32x4_t acc[MR][4];
  BITLAB_UNROLL for (int r = 0; r < MR; ++r) {
    BITLAB_UNROLL for (int h = 0; h < 4; ++h) acc[r][h] = vdupq_n_s32(0);
  }
  for (int64_t kb0 = 0; kb0 < a.k_blocks; kb0 += kNeonInt16KBlocks) {
    const int64_t kb1 = a.k_blocks - kb0 > kNeonInt16KBlocks ? kb0 + kNeonInt16KBlocks : a.k_blocks;
    int16x8_t sum[MR][kSets<MR>][4];
    BITLAB_UNROLL for (int r = 0; r < MR; ++r) {
      BITLAB_UNROLL for (int i = 0; i < kSets<MR>; ++i) {
        BITLAB_UNROLL for (int h = 0; h < 4; ++h) sum[r][i][h] = vdupq_n_s16(0);
      }
    }
    for (int64_t kb = kb0; kb < kb1; ++kb) {
      const uint8x16_t w0 = vld1q_u8(w + kb * 32);
      const uint8x16_t w1 = vld1q_u8(w + kb * 32 + 16);
      group_step<MR, 0>(w0, w1, x, kb * 16, sum);
      group_step<MR, 1>(w0, w1, x, kb * 16, sum);
      group_step<MR, 2>(w0, w1, x, kb * 16, sum);
      group_step<MR, 3>(w0, w1, x, kb * 16, sum);
    }
    BITLAB_UNROLL for (int r = 0; r < MR; ++r) {
      BITLAB_UNROLL for (int i = 0; i < kSets<MR>; ++i) {
        BITLAB_UNROLL for (int h = 0; h < 4; ++h) acc[r][h] = vpadalq_s16(acc[r][h], sum[r][i][h]);
      }
    }
  }
  BITLAB_UNROLL for (int r = 0; r < MR; ++r) {
    const int32x4_t row_sum = vdupq_n_s32(a.row_sums[row0 + r]);
    store_columns(a, row0 + r, n0, vsubq_s32(vpaddq_s32(acc[r][0], acc[r][1]), row_sum));
    store_columns(a, row0 + r, n0 + 4, vsubq_s32(vpaddq_s32(acc[r][2], acc[r][3]), row_sum));
  }
}

template <int MR>
void rows(const Qd8BlockedArgs& a, int64_t row0) {
  for (int64_t n0 = a.n_begin; n0 < a.n_end; n0 += 8) tile<MR>(a, row0, n0);
}

#undef BITLAB_UNROLL

}  // namespace

bool neon_ukernels_compiled_in() { return true; }

void qd8_t2w_gemm_ukernel_4x8c4__neon(const Qd8BlockedArgs& a) {
  int64_t row = 0;
  for (; row + kRows <= a.m; row += kRows) rows<kRows>(a, row);
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

#else  // not an aarch64 NEON build

namespace bitlab {
namespace internal {
bool neon_ukernels_compiled_in() { return false; }
void qd8_t2w_gemm_ukernel_4x8c4__neon(const Qd8BlockedArgs&) { __builtin_trap(); }
}  // namespace internal
}  // namespace bitlab

#endif
