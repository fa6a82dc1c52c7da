#include "bitcore/straight_through.h"

#include <torch/csrc/autograd/custom_function.h>

#include "bitcore/quantization.h"

namespace bitlab {
namespace {

class StraightThroughFakeQuant : public torch::autograd::Function<StraightThroughFakeQuant> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& t,
                            const BitQuantConfig& config, bool is_weight) {
    return is_weight ? fake_quantize_weight(t, config) : fake_quantize_x(t, config);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    return {grad_outputs[0], at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor ste_fake_quantize_weight(const at::Tensor& weight, const BitQuantConfig& config) {
  return StraightThroughFakeQuant::apply(weight, config, /*is_weight=*/true);
}

at::Tensor ste_fake_quantize_x(const at::Tensor& x, const BitQuantConfig& config) {
  return StraightThroughFakeQuant::apply(x, config, /*is_weight=*/false);
}

}  // namespace bitlab
