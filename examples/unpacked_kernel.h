// A ternary kernel of one's own, as docs/tutorials/writing_a_kernel.md writes it: the
// bitlab::BitKernel interface on raw pointers (no libtorch), with its own weight layout, one
// signed byte a weight ("unpacked": 4x the bytes of t2, no decoding in the inner loops).
// It is checked against the reference kernel by unpacked_kernel_conformance.cc, used through
// the bitlinear op by use_unpacked_kernel.cc and timed by unpacked_kernel_benchmark.cc.
//
// Example:
//   const bitlab::BitKernel& kernel = examples::unpacked_kernel();
//   std::vector<uint8_t> packed(kernel.packed_weight_bytes(n, k));
//   kernel.pack_weights(t2.data(), n, k, packed.data());   // t2: canonical packed weights
#ifndef BITLAB_EXAMPLES_UNPACKED_KERNEL_H_
#define BITLAB_EXAMPLES_UNPACKED_KERNEL_H_

#include "bitcore/kernels/bit_kernel.h"

namespace examples {

/// The process-wide kernel, named "example_unpacked".
const bitlab::BitKernel& unpacked_kernel();

}  // namespace examples

#endif  // BITLAB_EXAMPLES_UNPACKED_KERNEL_H_
