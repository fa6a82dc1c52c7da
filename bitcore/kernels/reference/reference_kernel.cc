#include "bitcore/kernels/reference/reference_kernel.h"

#include <cstring>

#include "bitcore/kernels/quantize_rows.h"
#include "bitcore/kernels/reference/ukernels.h"
#include "bitcore/kernels/ternary_packing.h"

namespace bitlab {
namespace {

class ReferenceKernel final : public BitKernel {
 public:
  const char* name() const override { return "reference"; }
  const char* isa() const override { return "scalar"; }
  // The lowest priority: anything else that is built, supported and compatible is faster.
  int priority() const override { return 0; }
  std::string unsupported_reason() const override { return ""; }
  std::string incompatibility(const BitQuantConfig&) const override { return ""; }

  int64_t n_block() const override { return 1; }
  int64_t packed_weight_bytes(int64_t n, int64_t k) const override { return t2_packed_bytes(n, k); }
  void pack_weights(const uint8_t* t2, int64_t n, int64_t k, uint8_t* packed) const override {
    std::memcpy(packed, t2, static_cast<size_t>(t2_packed_bytes(n, k)));
  }

  ActivationQuantizer activation_quantizer() const override {
    return {internal::f32_absmax_ukernel__scalar, internal::f32_qd8_quantize_row_ukernel__scalar};
  }
  void int8_accumulate(const Int8GemmArgs& args, int32_t* acc) const override {
    internal::qd8_t2w_gemm_ukernel_1x1c1__scalar(args, 0, args.n, acc, nullptr);
  }
  void int8_gemm(const Int8GemmArgs& args, int64_t n_begin, int64_t n_end,
                 float* y) const override {
    internal::qd8_t2w_gemm_ukernel_1x1c1__scalar(args, n_begin, n_end, nullptr, y);
  }
  void float32_gemm(const Float32GemmArgs& args, int64_t n_begin, int64_t n_end,
                    float* y) const override {
    internal::f32_t2w_gemm_ukernel_1x1c1__scalar(args, n_begin, n_end, y);
  }
};

}  // namespace

const BitKernel& reference_kernel() {
  static const ReferenceKernel kernel;
  return kernel;
}

}  // namespace bitlab
