#include "examples/unpacked_kernel.h"

#include <cstdint>
#include <string>

#include "bitcore/errors.h"
#include "bitcore/kernels/reference/reference_kernel.h"
#include "bitcore/kernels/ternary_packing.h"

namespace examples {
namespace {

// acc = q_x . q_w over one row pair, exact in int32 (|sum| <= 127 * k).
int32_t dot_i8(const int8_t* x, const int8_t* w, int64_t k) {
  int32_t sum = 0;
  for (int64_t i = 0; i < k; ++i) sum += int32_t{x[i]} * int32_t{w[i]};
  return sum;
}

class UnpackedKernel final : public bitlab::BitKernel {
 public:
  const char* name() const override { return "example_unpacked"; }
  const char* isa() const override { return "scalar"; }
  int priority() const override { return 1; }
  // Plain C++: runs on any CPU and implements every config.
  std::string unsupported_reason() const override { return ""; }
  std::string incompatibility(const bitlab::BitQuantConfig&) const override { return ""; }

  int64_t n_block() const override { return 1; }
  int64_t packed_weight_bytes(int64_t n, int64_t k) const override { return n * k; }
  // The layout: n rows of k signed bytes, each -1, 0 or +1.
  void pack_weights(const uint8_t* t2, int64_t n, int64_t k, uint8_t* packed) const override {
    int64_t bad = 0;
    if (!bitlab::unpack_t2(t2, n, k, reinterpret_cast<int8_t*>(packed), &bad)) {
      throw bitlab::BitLabError("example_unpacked: invalid t2 code in byte " + std::to_string(bad) +
                                " of the weights");
    }
  }

  // Activation quantization must round exactly as the contract says; the reference kernel's
  // loops do, so this kernel reuses them.
  bitlab::ActivationQuantizer activation_quantizer() const override {
    return bitlab::reference_kernel().activation_quantizer();
  }

  void int8_accumulate(const bitlab::Int8GemmArgs& args, int32_t* acc) const override {
    const int8_t* w = reinterpret_cast<const int8_t*>(args.w);
    for (int64_t m = 0; m < args.m; ++m) {
      for (int64_t n = 0; n < args.n; ++n) {
        acc[m * args.n + n] = dot_i8(args.x + m * args.k, w + n * args.k, args.k);
      }
    }
  }

  void int8_gemm(const bitlab::Int8GemmArgs& args, int64_t n_begin, int64_t n_end,
                 float* y) const override {
    const int8_t* w = reinterpret_cast<const int8_t*>(args.w);
    for (int64_t m = 0; m < args.m; ++m) {
      const float x_scale = args.x_scale_per_row ? args.x_scale[m] : args.x_scale[0];
      for (int64_t n = n_begin; n < n_end; ++n) {
        const int32_t acc = dot_i8(args.x + m * args.k, w + n * args.k, args.k);
        const float w_scale = args.w_scale_per_channel ? args.w_scale[n] : args.w_scale[0];
        // The contract's order: ((float(acc) * s_x) * g) + b.
        float out = static_cast<float>(acc) * x_scale * w_scale;
        if (args.bias != nullptr) out += args.bias[n];
        y[m * args.n + n] = out;
      }
    }
  }

  void float32_gemm(const bitlab::Float32GemmArgs& args, int64_t n_begin, int64_t n_end,
                    float* y) const override {
    const int8_t* w = reinterpret_cast<const int8_t*>(args.w);
    for (int64_t m = 0; m < args.m; ++m) {
      const float* x = args.x + m * args.k;
      for (int64_t n = n_begin; n < n_end; ++n) {
        const int8_t* row = w + n * args.k;
        // x times -1, 0 or +1 is exact: a sum of x with the weights' signs.
        float sum = 0.0f;
        for (int64_t k = 0; k < args.k; ++k) sum += x[k] * static_cast<float>(row[k]);
        const float w_scale = args.w_scale_per_channel ? args.w_scale[n] : args.w_scale[0];
        float out = sum * w_scale;
        if (args.bias != nullptr) out += args.bias[n];
        y[m * args.n + n] = out;
      }
    }
  }
};

}  // namespace

const bitlab::BitKernel& unpacked_kernel() {
  static const UnpackedKernel kernel;
  return kernel;
}

}  // namespace examples
