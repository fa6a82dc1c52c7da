// ARM micro-kernels, one cc_library per instruction set (see BUILD), each the only code built
// with its -march: plain NEON (armv8-a, what every aarch64 CPU runs), dot product
// (+dotprod, sdot) and int8 matrix multiply (+i8mm, smmla). Their files use no inline functions
// or templates shared with code built for another -march (helpers all have internal linkage;
// the text they share, epilogue.inc and group_codes.inc, is static), so the linker can never
// hand an older CPU an instruction it lacks through a merged copy.
//
// They read the blocked layouts of the x86 kernels' arguments (bitcore/kernels/x86/
// blocked_args.h, plain C++): the NEON and dot product kernels the x86 blocked t2 layout with
// 8 columns a block (4 consecutive k of a column per 4 bytes, "c4"), the i8mm kernel the c8
// layout of blocked_t2c8_packing.h. Integer kernels use the offset trick: codes are q + 1 in
// {0, 1, 2}, so sum(code * x) - sum(x) = sum(q * x), exactly, in int32.
#ifndef BITLAB_BITCORE_KERNELS_ARM_UKERNELS_H_
#define BITLAB_BITCORE_KERNELS_ARM_UKERNELS_H_

#include <cstdint>

#include "bitcore/kernels/x86/blocked_args.h"

namespace bitlab {
namespace internal {

/// True when the file was compiled for that instruction set (an aarch64 compiler that knows
/// it); the CPU check is separate (cpu_features.h).
bool neon_ukernels_compiled_in();
bool neondot_ukernels_compiled_in();
bool neoni8mm_ukernels_compiled_in();

/// Blocks of 16 k (c4 layout) an int16 sum of the plain NEON kernel can take: each of its
/// lanes gains 4 products of at most 2 * 128 a block; 31 * 4 * 256 = 31744 <= 32767.
inline constexpr int64_t kNeonInt16KBlocks = 31;

/// int8 activations x ternary weights, c4 layout (16 k a block): tiles of up to 4 rows x 8
/// columns; the 1- to 3-row tiles are the matrix-vector path. Plain NEON: smlal into int16
/// sums, widened with sadalp every kNeonInt16KBlocks blocks.
void qd8_t2w_gemm_ukernel_4x8c4__neon(const Qd8BlockedArgs& args);
/// The same with sdot (vdotq_laneq_s32): one 16-byte activation load per row and block, each
/// k group's 4 activations picked by lane.
void qd8_t2w_gemm_ukernel_4x8c4__neondot(const Qd8BlockedArgs& args);
/// int8 activations x ternary weights, c8 layout (32 k a block), with smmla (vmmlaq_s32): tiles
/// of 2 row pairs x 8 columns; an odd last row pairs with zeros (the matrix-vector path is
/// one row pair).
void qd8_t2w_gemm_ukernel_4x8c8__neoni8mm(const Qd8BlockedArgs& args);

/// The inner loops of activation quantization (see bitcore/kernels/quantize_rows.h), bit for
/// bit the reference kernel's.
float f32_absmax_ukernel__neon(const float* x, int64_t count);
float f32_qd8_quantize_row_ukernel__neon(const float* x, int64_t count, float amax, float eps,
                                         int8_t* q, int32_t* sum);

/// Rows the float32 micro-kernels handle at a time.
inline constexpr int64_t kNeonF32Rows = 2;

/// float32 activations x ternary weights (c4 or c8 layout), plain NEON: each k group's codes
/// become q = code - 1 in {-1, 0, 1} as floats, and fmla adds x * q, whose product is exact,
/// so each step is one rounding of the sum, as in the reference kernel (which sums in k order;
/// these sum 4 interleaved partial sums, within the contract's bound). `args.x` rows are args.k
/// floats apart and zero-padded to args.k_blocks whole blocks (16 k for c4, 32 for c8): args.k
/// is the padded length here.
void f32_t2w_gemm_ukernel_2x8c4__neon(const F32BlockedArgs& args);
void f32_t2w_gemm_ukernel_2x8c8__neon(const F32BlockedArgs& args);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_ARM_UKERNELS_H_
