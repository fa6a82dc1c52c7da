#include "bitzoo/transformer/encoder_block.h"

#include <cmath>
#include <limits>

#include <torch/nn/functional/activation.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitlayers/deployed_skeleton.h"

namespace bitlab {
namespace bitzoo {

void throw_no_swappable_child(const std::string& module, const std::string& name) {
  throw BitLabError(absl::StrCat(module, "::replace_child: '", name,
                                 "' is not a swappable child (expected one of its AnyModule "
                                 "members)"));
}

std::string describe_tensor(const torch::Tensor& tensor) {
  if (!tensor.defined()) return "an undefined tensor";
  return absl::StrCat("sizes ", c10::str(tensor.sizes()), " ", c10::toString(tensor.scalar_type()));
}

EncoderSelfAttentionImpl::EncoderSelfAttentionImpl(int64_t dim, int64_t num_heads_)
    : num_heads(num_heads_) {
  if (num_heads <= 0 || dim % num_heads != 0) {
    throw BitLabError(
        absl::StrCat("EncoderSelfAttention: dim must be a positive multiple of num_heads, ",
                     "got dim = ", dim, ", num_heads = ", num_heads));
  }
  q = torch::nn::AnyModule(register_module("q", make_linear(torch::nn::LinearOptions(dim, dim))));
  k = torch::nn::AnyModule(register_module("k", make_linear(torch::nn::LinearOptions(dim, dim))));
  v = torch::nn::AnyModule(register_module("v", make_linear(torch::nn::LinearOptions(dim, dim))));
  proj = torch::nn::AnyModule(
      register_module("proj", make_linear(torch::nn::LinearOptions(dim, dim))));
}

torch::Tensor EncoderSelfAttentionImpl::forward(const torch::Tensor& x,
                                                const torch::Tensor& key_padding_mask) {
  if (!x.defined() || x.dim() != 3) {
    throw ShapeError(
        absl::StrCat("EncoderSelfAttention: expected x [B, T, dim], got ", describe_tensor(x)));
  }
  const int64_t B = x.size(0);
  const int64_t T = x.size(1);
  const int64_t D = x.size(2);
  const int64_t head_dim = D / num_heads;
  // [B, T, D] -> [B, heads, T, head_dim].
  const auto heads = [&](torch::nn::AnyModule& projection) {
    return projection.forward(x).view({B, T, num_heads, head_dim}).transpose(1, 2);
  };
  const torch::Tensor queries = heads(q);
  const torch::Tensor keys = heads(k);
  const torch::Tensor values = heads(v);
  torch::Tensor scores =
      torch::matmul(queries, keys.transpose(-2, -1)) / std::sqrt(static_cast<double>(head_dim));
  if (key_padding_mask.defined()) {
    if (key_padding_mask.scalar_type() != torch::kBool || key_padding_mask.dim() != 2 ||
        key_padding_mask.size(0) != B || key_padding_mask.size(1) != T) {
      throw ShapeError(absl::StrCat("EncoderSelfAttention: expected key_padding_mask [", B, ", ", T,
                                    "] bool, got ", describe_tensor(key_padding_mask)));
    }
    // The lowest finite score, not -inf: see the file comment.
    scores = scores.masked_fill(key_padding_mask.view({B, 1, 1, T}),
                                std::numeric_limits<float>::lowest());
  }
  const torch::Tensor attended = torch::matmul(torch::softmax(scores, -1), values);
  return proj.forward(attended.transpose(1, 2).reshape({B, T, D}));
}

void EncoderSelfAttentionImpl::replace_child(const std::string& name,
                                             const torch::nn::AnyModule& replacement) {
  if (name == "q") {
    q = replacement;
  } else if (name == "k") {
    k = replacement;
  } else if (name == "v") {
    v = replacement;
  } else if (name == "proj") {
    proj = replacement;
  } else {
    throw_no_swappable_child("EncoderSelfAttention", name);
  }
}

EncoderMlpImpl::EncoderMlpImpl(int64_t dim, int64_t hidden) {
  fc1 = torch::nn::AnyModule(
      register_module("fc1", make_linear(torch::nn::LinearOptions(dim, hidden))));
  fc2 = torch::nn::AnyModule(
      register_module("fc2", make_linear(torch::nn::LinearOptions(hidden, dim))));
}

torch::Tensor EncoderMlpImpl::forward(const torch::Tensor& x) {
  return fc2.forward(torch::nn::functional::gelu(fc1.forward(x)));
}

void EncoderMlpImpl::replace_child(const std::string& name,
                                   const torch::nn::AnyModule& replacement) {
  if (name == "fc1") {
    fc1 = replacement;
  } else if (name == "fc2") {
    fc2 = replacement;
  } else {
    throw_no_swappable_child("EncoderMlp", name);
  }
}

EncoderBlockImpl::EncoderBlockImpl(const EncoderBlockOptions& options) {
  const auto layer_norm = [&] {
    return torch::nn::LayerNorm(
        torch::nn::LayerNormOptions({options.dim()}).eps(options.norm_eps()));
  };
  norm1 = register_module("norm1", layer_norm());
  attn = register_module("attn", EncoderSelfAttention(options.dim(), options.num_heads()));
  norm2 = register_module("norm2", layer_norm());
  mlp = register_module("mlp", EncoderMlp(options.dim(), options.mlp_hidden()));
}

torch::Tensor EncoderBlockImpl::forward(const torch::Tensor& x,
                                        const torch::Tensor& key_padding_mask) {
  const torch::Tensor y = x + attn(norm1(x), key_padding_mask);
  return y + mlp(norm2(y));
}

torch::nn::ModuleList make_encoder_blocks(const EncoderBlockOptions& options, int64_t depth) {
  torch::nn::ModuleList blocks;
  for (int64_t i = 0; i < depth; ++i) blocks->push_back(EncoderBlock(options));
  return blocks;
}

torch::Tensor run_encoder_blocks(const torch::nn::ModuleList& blocks, torch::Tensor x,
                                 const torch::Tensor& key_padding_mask) {
  for (const auto& block : *blocks) {
    x = block->as<EncoderBlockImpl>()->forward(x, key_padding_mask);
  }
  return x;
}

void init_transformer_weights(torch::nn::Module& model) {
  if (building_deployed_skeleton()) return;  // its tensors are filled from a file next
  // timm draws trunc_normal_(std=0.02) with cut-offs at +-2 in absolute value, i.e. at 100
  // standard deviations: a plain normal draw is the same distribution in practice.
  torch::NoGradGuard no_grad;
  // Without the root: constructors call this before a shared_ptr owns the model.
  for (const auto& m : model.modules(/*include_self=*/false)) {
    if (auto* linear = m->as<torch::nn::Linear>()) {
      torch::nn::init::normal_(linear->weight, 0.0, 0.02);
      if (linear->bias.defined()) torch::nn::init::zeros_(linear->bias);
    } else if (auto* embedding = m->as<torch::nn::Embedding>()) {
      torch::nn::init::normal_(embedding->weight, 0.0, 0.02);
      if (embedding->options.padding_idx().has_value()) {
        embedding->weight[*embedding->options.padding_idx()].zero_();
      }
    }
  }
}

}  // namespace bitzoo
}  // namespace bitlab
