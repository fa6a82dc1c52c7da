// AVX512-VNNI micro-kernels. Each is defined in a file of its own compiled with the AVX-512
// flags (see BUILD); nothing else is compiled with them, and these files use no inline
// functions or templates shared with the rest of the program, so no AVX-512 instruction can
// leak into code that runs before the CPU check.
#ifndef BITLAB_BITCORE_KERNELS_X86_AVX512VNNI_UKERNELS_H_
#define BITLAB_BITCORE_KERNELS_X86_AVX512VNNI_UKERNELS_H_

#include <cstdint>

#include "bitcore/kernels/x86/blocked_args.h"

namespace bitlab {
namespace internal {

/// True when this file was compiled with AVX512-VNNI support.
bool avx512vnni_ukernels_compiled_in();

/// Up to 2 rows at a time, weights decoded on the fly (bandwidth-bound batch 1..3). Needs
/// k_blocks <= kMaxGemvKBlocks (the scaled per-group accumulators must not overflow).
void qd8_t2w_gemv_ukernel_2x32c4__avx512vnni(const Qd8BlockedArgs& args);
inline constexpr int64_t kMaxGemvKBlocks = int64_t{1} << 14;

/// 8-row tiles over weight codes unpacked once per 32 columns into `scratch`
/// (compute-bound batches). Needs gemm_scratch_bytes(m, k_blocks) of scratch.
inline int64_t gemm_scratch_bytes(int64_t m, int64_t k_blocks) {
  return 2 * k_blocks * 256 + m * 32 * 4;
}
void qd8_t2w_gemm_ukernel_8x32c4__avx512vnni(const Qd8BlockedArgs& args);

/// True when the t1 micro-kernel was compiled with AVX512-VBMI support.
bool avx512vbmi_ukernels_compiled_in();

/// The same product over the blocked t1 layout (see blocked_t1_packing.h): `k_blocks` counts
/// blocks of 20 k and x rows are zero-padded to k_blocks * 20. Up to 2 rows at a time, for
/// batches of 1-3; larger batches re-read the weights per pair of rows.
void qd8_t1w_gemv_ukernel_1x16c4__avx512vnni(const Qd8BlockedArgs& args);

/// y = (x @ q_w^T) * g + b with masked additions of x (no multiplies by weights).
void f32_t2w_gemm_ukernel_4x32__avx512f(const F32BlockedArgs& args);

/// The inner loops of activation quantization (see bitcore/kernels/quantize_rows.h).
float f32_absmax_ukernel__avx512(const float* x, int64_t count);
float f32_qd8_quantize_row_ukernel__avx512(const float* x, int64_t count, float amax, float eps,
                                           int8_t* q, int32_t* sum);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_X86_AVX512VNNI_UKERNELS_H_
