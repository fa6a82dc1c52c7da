// int8 activations x ternary weights with the dot product extension (armv8.2-a+dotprod: sdot),
// c4 layout (8 columns x 16 k a 32-byte block, bitcore/kernels/x86/blocked_t2_packing.h). Each
// lane of a weight register holds one column's 4 consecutive k of a group, which is what sdot
// multiplies and sums into an int32 lane. Per block: two weight loads, a shift and a mask per
// k group and register, and per row one 16-byte activation load whose four 4-byte lanes are the
// four k groups' activations, picked by the by-element form (vdotq_laneq_s32): one sdot per
// row, k group and 4 columns.
#include "bitcore/kernels/arm/ukernels.h"

#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)

#include <arm_neon.h>

namespace bitlab {
namespace internal {
namespace {

#include "bitcore/kernels/arm/epilogue.inc"
#include "bitcore/kernels/arm/group_codes.inc"

#define BITLAB_UNROLL _Pragma("GCC unroll 8")

constexpr int kRows = 4;

// Accumulator sets a tile keeps: one per k group when registers allow (1 or 2 rows), so the
// four sdot of a block into a column register are independent instead of one latency chain.
template <int MR>
constexpr int kSets = MR <= 2 ? 4 : 1;

template <int MR, int S>
void group_step(uint8x16_t w0, uint8x16_t w1, const int8x16_t (&xs)[MR],
                int32x4_t (&acc)[MR][kSets<MR>][2]) {
  const int8x16_t c0 = signed_codes<S>(w0);
  const int8x16_t c1 = signed_codes<S>(w1);
  constexpr int set = S % kSets<MR>;
  BITLAB_UNROLL for (int r = 0; r < MR; ++r) {
    acc[r][set][0] = vdotq_laneq_s32(acc[r][set][0], c0, xs[r], S);
    acc[r][set][1] = vdotq_laneq_s32(acc[r][set][1], c1, xs[r], S);
  }
}

template <int MR>
void tile(const Qd8BlockedArgs& a, int64_t row0, int64_t n0) {
  const uint8_t* w = a.w + (n0 / 8) * a.k_blocks * 32;
  const int8_t* x[MR];
  BITLAB_UNROLL for (int r = 0; r < MR; ++r) x[r] = a.x + (row0 + r) * a.x_stride;

  int32x4_t acc[MR][kSets<MR>][2];  // columns 0-3 and 4-7
  BITLAB_UNROLL for (int r = 0; r < MR; ++r) {
    BITLAB_UNROLL for (int i = 0; i < kSets<MR>; ++i) {
      acc[r][i][0] = vdupq_n_s32(0);
      acc[r][i][1] = vdupq_n_s32(0);
    }
  }
  for (int64_t kb = 0; kb < a.k_blocks; ++kb) {
    const uint8x16_t w0 = vld1q_u8(w + kb * 32);
    const uint8x16_t w1 = vld1q_u8(w + kb * 32 + 16);
    int8x16_t xs[MR];
    BITLAB_UNROLL for (int r = 0; r < MR; ++r) xs[r] = vld1q_s8(x[r] + kb * 16);
    group_step<MR, 0>(w0, w1, xs, acc);
    group_step<MR, 1>(w0, w1, xs, acc);
    group_step<MR, 2>(w0, w1, xs, acc);
    group_step<MR, 3>(w0, w1, xs, acc);
  }
  BITLAB_UNROLL for (int r = 0; r < MR; ++r) {
    int32x4_t total[2] = {acc[r][0][0], acc[r][0][1]};
    BITLAB_UNROLL for (int i = 1; i < kSets<MR>; ++i) {
      total[0] = vaddq_s32(total[0], acc[r][i][0]);
      total[1] = vaddq_s32(total[1], acc[r][i][1]);
    }
    const int32x4_t row_sum = vdupq_n_s32(a.row_sums[row0 + r]);
    store_columns(a, row0 + r, n0, vsubq_s32(total[0], row_sum));
    store_columns(a, row0 + r, n0 + 4, vsubq_s32(total[1], row_sum));
  }
}

template <int MR>
void rows(const Qd8BlockedArgs& a, int64_t row0) {
  for (int64_t n0 = a.n_begin; n0 < a.n_end; n0 += 8) tile<MR>(a, row0, n0);
}

#undef BITLAB_UNROLL

}  // namespace

bool neondot_ukernels_compiled_in() { return true; }

void qd8_t2w_gemm_ukernel_4x8c4__neondot(const Qd8BlockedArgs& a) {
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

#else  // compiled without the dot product extension

namespace bitlab {
namespace internal {
bool neondot_ukernels_compiled_in() { return false; }
void qd8_t2w_gemm_ukernel_4x8c4__neondot(const Qd8BlockedArgs&) { __builtin_trap(); }
}  // namespace internal
}  // namespace bitlab

#endif
