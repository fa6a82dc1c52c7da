#include "examples/bit_gated_linear.h"

#include <string>

#include <torch/nn/init.h>

#include "bitcore/errors.h"
#include "bitcore/kernel_registry.h"

namespace examples {

BitGatedLinearImpl::BitGatedLinearImpl(const BitGatedLinearOptions& options_) : options(options_) {
  reset();
}

void BitGatedLinearImpl::reset() {
  const int64_t n = options.out_features();
  const int64_t k = options.in_features();
  if (n <= 0 || k <= 0) {
    throw bitlab::BitLabError(
        "BitGatedLinear: in_features and out_features must be positive, got " + std::to_string(k) +
        " and " + std::to_string(n));
  }
  options.quant_config().validate();
  gate_weight = register_parameter("gate_weight", torch::empty({n, k}));
  up_weight = register_parameter("up_weight", torch::empty({n, k}));
  gate_qweight = register_buffer("gate_qweight", torch::empty({0}, torch::kByte));
  gate_qweight_scale = register_buffer("gate_qweight_scale", torch::empty({0}));
  up_qweight = register_buffer("up_qweight", torch::empty({0}, torch::kByte));
  up_qweight_scale = register_buffer("up_qweight_scale", torch::empty({0}));
  reset_parameters();
}

void BitGatedLinearImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(gate_weight);
  torch::nn::init::xavier_uniform_(up_weight);
  packed_ = false;
}

void BitGatedLinearImpl::pretty_print(std::ostream& stream) const {
  stream << "examples::BitGatedLinear(in_features=" << options.in_features()
         << ", out_features=" << options.out_features()
         << ", quant=" << options.quant_config().to_string() << ", deployed=" << is_deployed()
         << ")";
}

torch::Tensor BitGatedLinearImpl::forward(const torch::Tensor& x) {
  const bitlab::BitQuantConfig& config = options.quant_config();
  if (is_training()) {
    // Fake quantization with the straight-through estimator: the forward sees ternary
    // weights and int8 activations, the backward reaches x and both latent weights.
    const torch::Tensor gate = bitlab::bitlinear::fake_quant_linear(x, gate_weight, {}, config);
    const torch::Tensor up = bitlab::bitlinear::fake_quant_linear(x, up_weight, {}, config);
    return torch::silu(gate) * up;
  }
  if (!packed_) pack();
  const torch::Tensor gate = bitlab::bitlinear::forward_packed(x, gate_kernel_, {}, config);
  const torch::Tensor up = bitlab::bitlinear::forward_packed(x, up_kernel_, {}, config);
  return torch::silu(gate) * up;
}

void BitGatedLinearImpl::pack() {
  const bitlab::BitQuantConfig& config = options.quant_config();
  torch::NoGradGuard no_grad;
  if (!is_deployed()) {
    const bitlab::bitlinear::PreparedWeights gate =
        bitlab::bitlinear::prepare_weights(gate_weight, config);
    const bitlab::bitlinear::PreparedWeights up =
        bitlab::bitlinear::prepare_weights(up_weight, config);
    gate_qweight.set_data(gate.qweight);
    gate_qweight_scale.set_data(gate.qweight_scale);
    up_qweight.set_data(up.qweight);
    up_qweight_scale.set_data(up.qweight_scale);
  }
  // The kernel owns its layout: repack the canonical t2 weights for the one chosen here.
  const bitlab::BitKernel& kernel = bitlab::KernelRegistry::get_kernel_for_config(config);
  gate_kernel_ = bitlab::bitlinear::pack_for_kernel(
      {gate_qweight_scale, gate_qweight, options.in_features()}, kernel);
  up_kernel_ = bitlab::bitlinear::pack_for_kernel(
      {up_qweight_scale, up_qweight, options.in_features()}, kernel);
  packed_ = true;
}

void BitGatedLinearImpl::train(bool on) {
  if (on && is_deployed()) {
    throw bitlab::BitLabError(
        "BitGatedLinear: train() after deploy(): the float weights were freed when the layer "
        "was deployed");
  }
  // Optimizer steps change the weights through .data(), which nothing records: repack on the
  // first eval forward after any training.
  if (!on && is_training()) packed_ = false;
  torch::nn::Module::train(on);
}

void BitGatedLinearImpl::deploy() {
  if (is_deployed()) return;
  torch::nn::Module::train(false);
  pack();
  torch::NoGradGuard no_grad;
  for (torch::Tensor* weight : {&gate_weight, &up_weight}) {
    weight->set_data(torch::empty({0}));
    weight->set_requires_grad(false);
  }
}

int64_t BitGatedLinearImpl::float_bytes() const {
  return 2 * 4 * options.out_features() * options.in_features();
}

int64_t BitGatedLinearImpl::deployed_bytes() const {
  const int64_t n = options.out_features();
  const int64_t scales =
      options.quant_config().weight_granularity == bitlab::Granularity::kPerChannel ? n : 1;
  // Per weight: n rows of ceil(k / 4) bytes of t2 codes, and float32 scales.
  return 2 * (n * ((options.in_features() + 3) / 4) + 4 * scales);
}

}  // namespace examples
