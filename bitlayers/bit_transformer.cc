#include "bitlayers/bit_transformer.h"

#include <ATen/ops/dropout.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/silu.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitcore/tensor_checks.h"

namespace bitlab {
namespace {

constexpr char kLayer[] = "BitTransformerBlock";

const char* activation_name(BitActivation activation) {
  switch (activation) {
    case BitActivation::kGELU:
      return "gelu";
    case BitActivation::kReLU2:
      return "relu2";
    case BitActivation::kSwiGLU:
      return "swiglu";
  }
  return "?";
}

const char* norm_name(BitNormType norm) {
  switch (norm) {
    case BitNormType::kRMSNorm:
      return "rms_norm";
    case BitNormType::kLayerNorm:
      return "layer_norm";
  }
  return "?";
}

torch::nn::AnyModule make_norm(BitNormType norm, int64_t dim) {
  switch (norm) {
    case BitNormType::kRMSNorm:
      return torch::nn::AnyModule(BitRMSNorm(dim));
    case BitNormType::kLayerNorm:
      return torch::nn::AnyModule(BitLayerNorm(dim));
  }
  throw BitLabError(absl::StrCat(kLayer, ": unknown norm type ", static_cast<int>(norm)));
}

}  // namespace

BitTransformerBlockImpl::BitTransformerBlockImpl(const BitTransformerBlockOptions& options_)
    : options(options_) {
  reset();
}

void BitTransformerBlockImpl::reset() {
  const int64_t d_model = options.d_model();
  const int64_t ffn_dim = options.ffn_dim();
  if (d_model <= 0 || options.num_heads() <= 0 || ffn_dim <= 0) {
    throw BitLabError(absl::StrCat(kLayer,
                                   ": d_model, num_heads and ffn_dim must be positive, got ",
                                   d_model, ", ", options.num_heads(), " and ", ffn_dim));
  }
  if (d_model % options.num_heads() != 0) {
    throw BitLabError(absl::StrCat(kLayer, ": d_model = ", d_model,
                                   " is not divisible by num_heads = ", options.num_heads()));
  }
  if (!(options.dropout() >= 0.0 && options.dropout() <= 1.0)) {
    throw BitLabError(absl::StrCat(kLayer, ": dropout must be in [0, 1], got ", options.dropout()));
  }
  const auto linear = [&](int64_t in, int64_t out) {
    return BitLinear(
        BitLinearOptions(in, out).bias(options.bias()).quant_config(options.quant_config()));
  };
  norm1 = make_norm(options.norm(), d_model);
  register_module("norm1", norm1.ptr());
  attn = register_module(
      "attn", BitMultiheadAttention(BitMultiheadAttentionOptions(d_model, options.num_heads())
                                        .dropout(options.dropout())
                                        .bias(options.bias())
                                        .sub_norm(options.sub_norm())
                                        .causal(options.causal())
                                        .quant_config(options.quant_config())));
  norm2 = make_norm(options.norm(), d_model);
  register_module("norm2", norm2.ptr());
  gate_proj = nullptr;
  if (options.activation() == BitActivation::kSwiGLU) {
    gate_proj = register_module("gate_proj", linear(d_model, ffn_dim));
  }
  up_proj = register_module("up_proj", linear(d_model, ffn_dim));
  ffn_sub_norm = nullptr;
  if (options.sub_norm()) ffn_sub_norm = register_module("ffn_sub_norm", BitRMSNorm(ffn_dim));
  down_proj = register_module("down_proj", linear(ffn_dim, d_model));
}

void BitTransformerBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "bitlab::BitTransformerBlock(d_model=" << options.d_model()
         << ", num_heads=" << options.num_heads() << ", ffn_dim=" << options.ffn_dim()
         << ", activation=" << activation_name(options.activation())
         << ", norm=" << norm_name(options.norm()) << ", sub_norm=" << std::boolalpha
         << options.sub_norm() << ", causal=" << options.causal()
         << ", dropout=" << options.dropout() << ", bias=" << options.bias()
         << ", quant=" << options.quant_config().to_string() << ")";
}

torch::Tensor BitTransformerBlockImpl::mlp(const torch::Tensor& h) {
  at::Tensor hidden;
  switch (options.activation()) {
    case BitActivation::kGELU:
      hidden = at::gelu(up_proj(h));
      break;
    case BitActivation::kReLU2:
      hidden = at::relu(up_proj(h)).square();
      break;
    case BitActivation::kSwiGLU:
      hidden = at::silu(gate_proj(h)) * up_proj(h);
      break;
  }
  if (ffn_sub_norm) hidden = ffn_sub_norm(hidden);
  return down_proj(hidden);
}

torch::Tensor BitTransformerBlockImpl::forward(const torch::Tensor& x,
                                               const torch::Tensor& key_padding_mask,
                                               const torch::Tensor& attn_mask) {
  check_floating(kLayer, "x", x);
  if (x.dim() != 3 || x.size(2) != options.d_model()) {
    throw ShapeError(absl::StrCat(kLayer, ": x has shape ", shape_string(x),
                                  ", expected (L, N, d_model = ", options.d_model(), ")"));
  }
  const double p = options.dropout();
  const bool drop = is_training() && p > 0.0;
  const at::Tensor h1 = norm1.forward<torch::Tensor>(x);
  at::Tensor attended = std::get<0>(attn(h1, h1, h1, key_padding_mask,
                                         /*need_weights=*/false, attn_mask));
  if (drop) attended = at::dropout(attended, p, /*train=*/true);
  const at::Tensor y = x + attended;
  at::Tensor transformed = mlp(norm2.forward<torch::Tensor>(y));
  if (drop) transformed = at::dropout(transformed, p, /*train=*/true);
  return y + transformed;
}

void BitTransformerBlockImpl::train(bool on) {
  if (on && is_deployed()) {
    throw BitLabError(absl::StrCat(
        kLayer,
        ": train() after deploy(): the projections' float weights were freed when the block "
        "was deployed; train a copy made before deploy() instead"));
  }
  torch::nn::Module::train(on);
}

void BitTransformerBlockImpl::deploy() {
  attn->deploy();
  for (BitLinear* projection : {&gate_proj, &up_proj, &down_proj}) {
    if (*projection) (*projection)->deploy();
  }
  torch::nn::Module::train(false);
}

bool BitTransformerBlockImpl::is_deployed() const {
  return attn->is_deployed() && (!gate_proj || gate_proj->is_deployed()) &&
         up_proj->is_deployed() && down_proj->is_deployed();
}

}  // namespace bitlab
