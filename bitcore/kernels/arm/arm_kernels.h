// The ARM (aarch64) kernels: int8 activations x ternary weights and float32 activations x
// ternary weights, at three instruction-set levels, each its own registry entry so the
// registry picks the best this CPU runs (getauxval) and BITLAB_KERNEL can force any of them:
//   arm_neon     plain NEON (armv8-a; every aarch64 CPU: Cortex-A53/A72, Raspberry Pi 3/4)
//   arm_dotprod  + the dot product extension, sdot (Cortex-A55/A76+, Neoverse N1, Graviton 2)
//   arm_i8mm     + the int8 matrix multiply extension, smmla (Neoverse V1/N2, Graviton 3/4,
//                Apple M2+, Cortex-A710+)
// The float32 path is the same plain NEON code in all three (neither extension helps it).
//
// Example:
//   const bitlab::BitKernel& kernel = bitlab::arm_dotprod_kernel();
//   if (kernel.is_supported()) { ... }  // else kernel.unsupported_reason() says what is missing
#ifndef BITLAB_BITCORE_KERNELS_ARM_ARM_KERNELS_H_
#define BITLAB_BITCORE_KERNELS_ARM_ARM_KERNELS_H_

#include "bitcore/kernels/bit_kernel.h"

namespace bitlab {

/// The process-wide ARM kernels, named "arm_neon", "arm_dotprod" and "arm_i8mm".
const BitKernel& arm_neon_kernel();
const BitKernel& arm_dotprod_kernel();
const BitKernel& arm_i8mm_kernel();

}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_ARM_ARM_KERNELS_H_
