// AVX2 micro-kernels. Each is defined in a file of its own compiled with -mavx2 -mfma -mf16c
// (see BUILD); nothing else is compiled with them, and these files use no inline functions or
// templates shared with the rest of the program (their helpers all have internal linkage), so
// no AVX2 instruction can leak into code that runs before the CPU check.
//
// The int8 kernels read the blocked t2 layout with 8 columns a block (blocked_t2_packing.h):
// one 32-byte block holds, for 8 columns, the 2-bit codes of 16 consecutive k. AVX2 has no
// vpdpbusd, so a dot product is vpmaddubsw (unsigned codes 0..2 times signed activations, a
// pair summing to at most 512 in magnitude) into int16 accumulators, widened to int32 with
// vpmaddwd every kInt16KBlocks blocks of 16 k, before the int16 sums could overflow.
#ifndef BITLAB_BITCORE_KERNELS_X86_AVX2_UKERNELS_H_
#define BITLAB_BITCORE_KERNELS_X86_AVX2_UKERNELS_H_

#include <cstdint>

#include "bitcore/kernels/x86/blocked_args.h"

namespace bitlab {
namespace internal {

/// Blocks of 16 k whose products an int16 lane can sum exactly: a vpmaddubsw lane is at most
/// 2 * 2 * 128 = 512 in magnitude (even for x = -128), four k groups a block, 15 * 4 * 512 =
/// 30720 <= 32767.
inline constexpr int64_t kInt16KBlocks = 15;
/// Scratch bytes the gemm micro-kernel needs per block of 16 k (16 columns of decoded codes).
inline constexpr int64_t kAvx2GemmScratchPerKBlock = 2 * 4 * 32;
/// Rows the float32 micro-kernel handles at a time, and its scratch floats per block of 16 k
/// (a 4-float lookup table [-x, 0, x, 0] per activation of each of those rows).
inline constexpr int64_t kAvx2F32Rows = 4;
inline constexpr int64_t kAvx2F32ScratchFloatsPerKBlock = kAvx2F32Rows * 16 * 4;

/// True when the micro-kernels were compiled with AVX2 and FMA support.
bool avx2_ukernels_compiled_in();

/// Batches of 1..3 (more rows are run 3 at a time): weights decoded on the fly, each weight
/// byte loaded once per 3 rows.
void qd8_t2w_gemv_ukernel_3x16c4__avx2(const Qd8BlockedArgs& args);

/// Batches of 4 and more: weight codes decoded once per 16 columns into `scratch`, then
/// 4-row x 16-column register tiles.
void qd8_t2w_gemm_ukernel_4x16c4__avx2(const Qd8BlockedArgs& args);

/// The inner loops of activation quantization (see bitcore/kernels/quantize_rows.h).
float f32_absmax_ukernel__avx2(const float* x, int64_t count);
float f32_qd8_quantize_row_ukernel__avx2(const float* x, int64_t count, float amax, float eps,
                                         int8_t* q, int32_t* sum);

/// float32 activations x ternary weights: additions and subtractions of x, selected per column
/// from a [-x, 0, x] table by the 2-bit code (vpermilps), up to 4 rows x 16 columns a tile.
/// Each output sums its terms in k order, as the reference kernel does.
void f32_t2w_gemm_ukernel_4x16__avx2(const F32BlockedArgs& args);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_X86_AVX2_UKERNELS_H_
