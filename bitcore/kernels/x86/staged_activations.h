// Activations as the x86 integer micro-kernels read them: rows zero-padded to whole weight
// blocks of k (so no kernel reads past a row), and each row's sum for the offset trick
// (codes are q + 1, so sum(code * x) - sum(x) = sum(q * x)). Plain C++, no ISA flags.
#ifndef BITLAB_BITCORE_KERNELS_X86_STAGED_ACTIVATIONS_H_
#define BITLAB_BITCORE_KERNELS_X86_STAGED_ACTIVATIONS_H_

#include <cstdint>

#include "bitcore/kernels/bit_kernel.h"

namespace bitlab {
namespace internal {

struct StagedActivations {
  const int8_t* x;  // m rows, `stride` bytes apart, zero from k to k_padded
  int64_t stride;
  const int32_t* row_sums;  // m sums
};

/// Stages args.x for rows of `k_padded` bytes, copying only when k_padded != args.k, and
/// takes the row sums from args.x_row_sums or computes them. The memory is per thread and
/// valid until this thread's next call.
StagedActivations stage_activations(const Int8GemmArgs& args, int64_t k_padded);

}  // namespace internal
}  // namespace bitlab

#endif  // BITLAB_BITCORE_KERNELS_X86_STAGED_ACTIVATIONS_H_
