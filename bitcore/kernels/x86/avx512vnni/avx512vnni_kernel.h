// The AVX512-VNNI kernels: int8 activations x ternary weights with vpdpbusd (a matrix-vector
// path for batches of 1-3, a register-blocked matrix-matrix path for larger batches) and
// float32 activations by masked additions, on 2-bit weights; and a matrix-vector kernel on
// 1.6-bit weights.
#ifndef BITLAB_BITCORE_KERNELS_X86_AVX512VNNI_AVX512VNNI_KERNEL_H_
#define BITLAB_BITCORE_KERNELS_X86_AVX512VNNI_AVX512VNNI_KERNEL_H_

#include "bitcore/kernels/bit_kernel.h"

namespace bitlab {

/// The process-wide AVX512-VNNI kernel on 2-bit weights, named "x86_avx512vnni".
const BitKernel& avx512vnni_kernel();

/// The AVX512-VNNI matrix-vector kernel on 1.6-bit (base-3) weights, named
/// "x86_avx512vnni_t1": int8 activations only, for weights that stream from DRAM.
const BitKernel& avx512vnni_t1_kernel();

}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_X86_AVX512VNNI_AVX512VNNI_KERNEL_H_
