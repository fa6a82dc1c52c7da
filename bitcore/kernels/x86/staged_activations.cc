#include "bitcore/kernels/x86/staged_activations.h"

#include <cstring>
#include <vector>

namespace bitlab {
namespace internal {

StagedActivations stage_activations(const Int8GemmArgs& args, int64_t k_padded) {
  thread_local std::vector<int8_t> padded;
  thread_local std::vector<int32_t> sums;
  StagedActivations staged{args.x, args.k, args.x_row_sums};
  if (k_padded != args.k) {
    padded.assign(static_cast<size_t>(args.m * k_padded), 0);
    for (int64_t r = 0; r < args.m; ++r) {
      std::memcpy(padded.data() + r * k_padded, args.x + r * args.k, static_cast<size_t>(args.k));
    }
    staged.x = padded.data();
    staged.stride = k_padded;
  }
  if (staged.row_sums == nullptr) {
    sums.resize(static_cast<size_t>(args.m));
    for (int64_t r = 0; r < args.m; ++r) {
      const int8_t* row = args.x + r * args.k;
      int32_t sum = 0;
      for (int64_t i = 0; i < args.k; ++i) sum += row[i];
      sums[r] = sum;
    }
    staged.row_sums = sums.data();
  }
  return staged;
}

}  // namespace internal
}  // namespace bitlab
