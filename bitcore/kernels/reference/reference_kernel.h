// The reference kernel: always built, runs on every CPU, implements every config, and its
// packed layout is canonical t2 itself. It is the oracle every other kernel is tested against
// and the fallback when nothing faster fits.
#ifndef BITLAB_BITCORE_KERNELS_REFERENCE_REFERENCE_KERNEL_H_
#define BITLAB_BITCORE_KERNELS_REFERENCE_REFERENCE_KERNEL_H_

#include "bitcore/kernels/bit_kernel.h"

namespace bitlab {

/// The process-wide reference kernel, named "reference".
const BitKernel& reference_kernel();

}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_REFERENCE_REFERENCE_KERNEL_H_
