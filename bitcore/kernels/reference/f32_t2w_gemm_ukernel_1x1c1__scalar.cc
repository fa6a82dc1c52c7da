#include "bitcore/kernels/reference/ukernels.h"
#include "bitcore/kernels/ternary_packing.h"

namespace bitlab {
namespace internal {

float f32_rescale__scalar(const Float32GemmArgs& args, int64_t n, float sum) {
  const float w_scale = args.w_scale_per_channel ? args.w_scale[n] : args.w_scale[0];
  float out = sum * w_scale;
  if (args.bias != nullptr) out += args.bias[n];
  return out;
}

void f32_t2w_gemm_ukernel_1x1c1__scalar(const Float32GemmArgs& args, int64_t n_begin, int64_t n_end,
                                        float* y) {
  const int64_t row_bytes = t2_row_bytes(args.k);
  for (int64_t m = 0; m < args.m; ++m) {
    const float* x = args.x + m * args.k;
    for (int64_t n = n_begin; n < n_end; ++n) {
      const uint8_t* w = args.w + n * row_bytes;
      float sum = 0.0f;
      // x * q with q in {-1, 0, 1} is exactly x, -x or 0, so this is the sum of x with the
      // weight's sign; written as a multiply to avoid a data-dependent branch per weight.
      for (int64_t k = 0; k < args.k; ++k) sum += x[k] * static_cast<float>(t2_weight(w, k));
      y[m * args.n + n] = f32_rescale__scalar(args, n, sum);
    }
  }
}

}  // namespace internal
}  // namespace bitlab
