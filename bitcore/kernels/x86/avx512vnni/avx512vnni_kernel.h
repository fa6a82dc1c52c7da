// The AVX512-VNNI kernel: int8 activations x ternary weights with vpdpbusd, a matrix-vector
// path for batches of 1-3 and a register-blocked matrix-matrix path for larger batches.
#ifndef BITLAB_BITCORE_KERNELS_X86_AVX512VNNI_AVX512VNNI_KERNEL_H_
#define BITLAB_BITCORE_KERNELS_X86_AVX512VNNI_AVX512VNNI_KERNEL_H_

#include "bitcore/kernels/bit_kernel.h"

namespace bitlab {

/// The process-wide AVX512-VNNI kernel, named "x86_avx512vnni".
const BitKernel& avx512vnni_kernel();

}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_X86_AVX512VNNI_AVX512VNNI_KERNEL_H_
