#include "bitcore/kernels/reference/ukernels.h"
#include "bitcore/kernels/ternary_packing.h"

namespace bitlab {
namespace internal {

float qd8_rescale__scalar(const Int8GemmArgs& args, int64_t m, int64_t n, int32_t acc) {
  const float x_scale = args.x_scale_per_row ? args.x_scale[m] : args.x_scale[0];
  const float w_scale = args.w_scale_per_channel ? args.w_scale[n] : args.w_scale[0];
  float out = static_cast<float>(acc) * x_scale * w_scale;
  if (args.bias != nullptr) out += args.bias[n];
  return out;
}

void qd8_t2w_gemm_ukernel_1x1c1__scalar(const Int8GemmArgs& args, int64_t n_begin, int64_t n_end,
                                        int32_t* acc, float* y) {
  const int64_t row_bytes = t2_row_bytes(args.k);
  for (int64_t m = 0; m < args.m; ++m) {
    const int8_t* x = args.x + m * args.k;
    for (int64_t n = n_begin; n < n_end; ++n) {
      const uint8_t* w = args.w + n * row_bytes;
      int32_t sum = 0;
      for (int64_t k = 0; k < args.k; ++k) sum += int32_t{x[k]} * t2_weight(w, k);
      if (acc != nullptr) acc[m * args.n + n] = sum;
      if (y != nullptr) y[m * args.n + n] = qd8_rescale__scalar(args, m, n, sum);
    }
  }
}

}  // namespace internal
}  // namespace bitlab
