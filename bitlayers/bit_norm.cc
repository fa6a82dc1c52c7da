#include "bitlayers/bit_norm.h"

#include <ATen/ops/layer_norm.h>
#include <torch/nn/init.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitcore/tensor_checks.h"

namespace bitlab {
namespace {

void check_positive_dim(const char* layer, int64_t normalized_shape) {
  if (normalized_shape <= 0) {
    throw BitLabError(
        absl::StrCat(layer, ": normalized_shape must be positive, got ", normalized_shape));
  }
}

// Checks `input` and returns the dtype the layer computes in: float32 at least, so half
// inputs are normalized in float32 and float64 inputs keep their precision.
at::ScalarType check_input(const char* layer, const at::Tensor& input, int64_t normalized_shape) {
  check_floating(layer, "input", input);
  check_min_rank(layer, "input", input, 1);
  if (input.size(-1) != normalized_shape) {
    throw ShapeError(absl::StrCat(layer, ": input has shape ", shape_string(input),
                                  ", its last dimension is ", input.size(-1),
                                  ", expected normalized_shape = ", normalized_shape));
  }
  return at::promote_types(input.scalar_type(), at::kFloat);
}

}  // namespace

BitRMSNormImpl::BitRMSNormImpl(const BitRMSNormOptions& options_) : options(options_) { reset(); }

void BitRMSNormImpl::reset() {
  check_positive_dim("BitRMSNorm", options.normalized_shape());
  weight = register_parameter(
      "weight",
      options.elementwise_affine() ? torch::empty({options.normalized_shape()}) : torch::Tensor(),
      /*requires_grad=*/options.elementwise_affine());
  reset_parameters();
}

void BitRMSNormImpl::reset_parameters() {
  if (weight.defined()) torch::nn::init::ones_(weight);
}

void BitRMSNormImpl::pretty_print(std::ostream& stream) const {
  stream << "bitlab::BitRMSNorm(" << options.normalized_shape() << ", eps=" << options.eps()
         << ", elementwise_affine=" << std::boolalpha << options.elementwise_affine() << ")";
}

torch::Tensor BitRMSNormImpl::forward(const torch::Tensor& input) {
  const at::ScalarType compute = check_input("BitRMSNorm", input, options.normalized_shape());
  const at::Tensor x = input.to(compute);
  at::Tensor y = x * (x.square().mean(-1, /*keepdim=*/true) + options.eps()).rsqrt();
  if (weight.defined()) y = y * weight.to(compute);
  return y.to(input.scalar_type());
}

BitLayerNormImpl::BitLayerNormImpl(const BitLayerNormOptions& options_) : options(options_) {
  reset();
}

void BitLayerNormImpl::reset() {
  check_positive_dim("BitLayerNorm", options.normalized_shape());
  const bool affine = options.elementwise_affine();
  const bool has_bias = affine && options.bias();
  weight = register_parameter("weight",
                              affine ? torch::empty({options.normalized_shape()}) : torch::Tensor(),
                              /*requires_grad=*/affine);
  bias = register_parameter("bias",
                            has_bias ? torch::empty({options.normalized_shape()}) : torch::Tensor(),
                            /*requires_grad=*/has_bias);
  reset_parameters();
}

void BitLayerNormImpl::reset_parameters() {
  if (weight.defined()) torch::nn::init::ones_(weight);
  if (bias.defined()) torch::nn::init::zeros_(bias);
}

void BitLayerNormImpl::pretty_print(std::ostream& stream) const {
  stream << "bitlab::BitLayerNorm(" << options.normalized_shape() << ", eps=" << options.eps()
         << ", elementwise_affine=" << std::boolalpha << options.elementwise_affine()
         << ", bias=" << (options.elementwise_affine() && options.bias()) << ")";
}

torch::Tensor BitLayerNormImpl::forward(const torch::Tensor& input) {
  const at::ScalarType compute = check_input("BitLayerNorm", input, options.normalized_shape());
  const at::Tensor w = weight.defined() ? weight.to(compute) : at::Tensor();
  const at::Tensor b = bias.defined() ? bias.to(compute) : at::Tensor();
  return at::layer_norm(input.to(compute), {options.normalized_shape()}, w, b, options.eps())
      .to(input.scalar_type());
}

}  // namespace bitlab
