// The AVX2 kernel: int8 activations x ternary weights with vpmaddubsw (a matrix-vector path for
// batches of 1-3 and a register-blocked matrix-matrix path for larger batches), and float32
// activations x ternary weights by table lookup, all over the blocked t2 layout with 8 columns
// a block. For x86-64 CPUs with AVX2 and FMA but without AVX512-VNNI.
#ifndef BITLAB_BITCORE_KERNELS_X86_AVX2_AVX2_KERNEL_H_
#define BITLAB_BITCORE_KERNELS_X86_AVX2_AVX2_KERNEL_H_

#include "bitcore/kernels/bit_kernel.h"

namespace bitlab {

/// The process-wide AVX2 kernel, named "x86_avx2".
const BitKernel& avx2_kernel();

}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_X86_AVX2_AVX2_KERNEL_H_
