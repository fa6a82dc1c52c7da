#include "bitlayers/bit_linear.h"

#include <cmath>
#include <vector>

#include <ATen/record_function.h>
#include <torch/nn/init.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitcore/kernel_registry.h"
#include "bitlayers/deployed_layout.h"
#include "bitlayers/deployed_skeleton.h"
#include "bitlayers/profile_name.h"

namespace bitlab {

BitLinearImpl::BitLinearImpl(const BitLinearOptions& options_) : options(options_) { reset(); }

void BitLinearImpl::reset() {
  if (options.in_features() <= 0 || options.out_features() <= 0) {
    throw BitLabError(absl::StrCat("BitLinear: in_features and out_features must be positive, got ",
                                   options.in_features(), " and ", options.out_features()));
  }
  options.quant_config().validate();
  kernel_weights_ = bitlinear::KernelWeights();
  w_hat_workspace_ = torch::Tensor();
  packed_tracker_ = internal::PackedWeightTracker();
  const int64_t out = options.out_features();
  if (is_deployed()) {  // the copy Cloneable::clone() resets; clone() then fills it
    internal::register_deployed_layout_like(*this, weight, bias, qweight, qweight_scale);
    return;
  }
  if (building_deployed_skeleton()) {
    internal::register_deployed_layout(
        *this, weight, bias, qweight, qweight_scale, {out, (options.in_features() + 3) / 4},
        internal::deployed_scale_count(options.quant_config(), out), options.bias() ? out : 0);
    torch::nn::Module::train(false);
    return;
  }
  // Every name is registered whatever the options, so state-dict keys never depend on them.
  weight =
      register_parameter("weight", torch::empty({options.out_features(), options.in_features()}));
  bias = register_parameter(
      "bias", options.bias() ? torch::empty({options.out_features()}) : torch::Tensor(),
      /*requires_grad=*/options.bias());
  qweight = register_buffer("qweight", torch::empty({0}, torch::kByte));
  qweight_scale = register_buffer("qweight_scale", torch::empty({0}));
  reset_parameters();
}

void BitLinearImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  if (options.init_method() == InitMethod::kXavierUniform) {
    torch::nn::init::xavier_uniform_(weight);
  } else {
    torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  }
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(options.in_features()));
    torch::nn::init::uniform_(bias, -bound, bound);
  }
  packed_tracker_.invalidate();
}

void BitLinearImpl::pretty_print(std::ostream& stream) const {
  stream << "bitlab::BitLinear(in_features=" << options.in_features()
         << ", out_features=" << options.out_features() << ", bias=" << std::boolalpha
         << options.bias() << ", quant=" << options.quant_config().to_string()
         << ", deployed=" << is_deployed() << ")";
}

torch::Tensor BitLinearImpl::forward(const torch::Tensor& given) {
  // Under autocast (mixed precision) the previous layer may hand over bfloat16 or float16; the
  // quantization is defined on float32 (docs/numerics.md), so such input is widened first.
  const torch::Tensor input = is_reduced_float(given) ? given.to(torch::kFloat) : given;
  const Float32Region float32;
  const bool fake_quant = is_training() && !is_deployed();
  // Profilers see the layer as one scope named with its kernel (profile_name.h).
  RECORD_USER_SCOPE_WITH_INPUTS(
      bit_layer_profile_name("BitLinear",
                             absl::StrCat(options.in_features(), "->", options.out_features()),
                             options.quant_config(), fake_quant),
      std::vector<c10::IValue>{input});
  // A layer that holds deployed weights (deploy(), or a deployed state dict loaded into it)
  // has no float weight to train: it runs the packed path in either mode.
  if (fake_quant) {
    return bitlinear::fake_quant_linear(input, weight, bias, options.quant_config(),
                                        &w_hat_workspace_);
  }
  refresh_packed_weights();
  return bitlinear::forward_packed(input, kernel_weights_, bias, options.quant_config());
}

void BitLinearImpl::refresh_packed_weights() {
  const BitQuantConfig& config = options.quant_config();
  if (!is_deployed()) {
    // Stale after training (train(false) resets the version), after an in-place change made
    // in eval mode (copy_ moves the version counter), or after set_data() swapped the storage.
    if (packed_tracker_.stale(weight, qweight, config)) {
      bitlinear::PreparedWeights prepared = bitlinear::prepare_weights(weight, config);
      torch::NoGradGuard no_grad;
      qweight.set_data(prepared.qweight);
      qweight_scale.set_data(prepared.qweight_scale);
      packed_tracker_.mark_packed(weight, config);
      kernel_weights_ = bitlinear::KernelWeights();
    }
  }
  const BitKernel& kernel = KernelRegistry::get_kernel_for_config(config);
  // Repack for the kernel when it changes, or when the packed buffers were loaded anew.
  const int64_t buffers_version = qweight._version() + qweight_scale._version();
  if (kernel_weights_.kernel != &kernel || kernel_source_data_ != qweight.data_ptr() ||
      kernel_source_version_ != buffers_version) {
    bitlinear::PreparedWeights prepared{qweight_scale, qweight, options.in_features()};
    kernel_weights_ = bitlinear::pack_for_kernel(prepared, kernel);
    kernel_source_data_ = qweight.data_ptr();
    kernel_source_version_ = buffers_version;
  }
}

void BitLinearImpl::train(bool on) {
  if (on && is_deployed()) {
    throw BitLabError(
        "BitLinear: train() after deploy(): the float weight was freed when the layer was "
        "deployed; train a copy made before deploy() instead");
  }
  // Leaving training marks the packed weights stale. The version counter cannot be relied on
  // for this: libtorch's optimizers update parameters through .data(), which does not bump it.
  if (!on && is_training()) {
    packed_tracker_.invalidate();
    w_hat_workspace_ = torch::Tensor();  // eval does not need it
  }
  torch::nn::Module::train(on);
}

void BitLinearImpl::deploy() {
  if (is_deployed()) {  // completes the layout of a layer given deployed weights by hand
    internal::move_bias_to_buffers(*this, parameters_, bias);
    return;
  }
  // Always repack: optimizer steps since the last eval forward leave the version counter alone.
  packed_tracker_.invalidate();
  torch::nn::Module::train(false);
  refresh_packed_weights();
  torch::NoGradGuard no_grad;
  weight.set_data(torch::empty({0}));
  weight.set_requires_grad(false);
  internal::move_bias_to_buffers(*this, parameters_, bias);
}

void BitLinearImpl::load(torch::serialize::InputArchive& archive) {
  torch::nn::Module::load(archive);
  if (is_deployed()) internal::move_bias_to_buffers(*this, parameters_, bias);
}

int64_t BitLinearImpl::float_bytes() const {
  const int64_t bias_values = options.bias() ? options.out_features() : 0;
  return 4 * (options.out_features() * options.in_features() + bias_values);
}

int64_t BitLinearImpl::deployed_bytes() const {
  const int64_t n = options.out_features();
  const int64_t scales = internal::deployed_scale_count(options.quant_config(), n);
  const int64_t bias_values = options.bias() ? n : 0;
  return n * ((options.in_features() + 3) / 4) + 4 * (scales + bias_values);
}

std::shared_ptr<BitLinearImpl> BitLinearImpl::from_linear(const torch::nn::Linear& linear,
                                                          const BitQuantConfig& config) {
  const auto& source = linear->options;
  auto layer =
      std::make_shared<BitLinearImpl>(BitLinearOptions(source.in_features(), source.out_features())
                                          .bias(source.bias())
                                          .quant_config(config));
  if (layer->is_deployed()) return layer;  // a skeleton (deployed_skeleton.h): nothing to copy
  torch::NoGradGuard no_grad;
  layer->weight.copy_(linear->weight);
  if (source.bias()) layer->bias.copy_(linear->bias);
  return layer;
}

}  // namespace bitlab
