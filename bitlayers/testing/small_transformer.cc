#include "bitlayers/testing/small_transformer.h"

#include <limits>
#include <tuple>

#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include "bitcore/errors.h"

namespace bitlab {
namespace testing {
namespace {

[[noreturn]] void no_such_child(const char* module, const std::string& name) {
  throw BitLabError(std::string(module) + "::replace_child: '" + name +
                    "' is not a swappable child (expected one of the AnyModule members)");
}

}  // namespace

TransformerBlockImpl::TransformerBlockImpl(const SmallTransformerOptions& options) {
  const int64_t d = options.d_model();
  ln1 = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  attn = torch::nn::AnyModule(register_module(
      "attn",
      torch::nn::MultiheadAttention(torch::nn::MultiheadAttentionOptions(d, options.num_heads()))));
  ln2 = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  fc1 = torch::nn::AnyModule(register_module("fc1", torch::nn::Linear(d, options.d_ff())));
  act = register_module("act", torch::nn::GELU());
  fc2 = torch::nn::AnyModule(register_module("fc2", torch::nn::Linear(options.d_ff(), d)));
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& x,
                                            const torch::Tensor& attn_mask) {
  const torch::Tensor h = ln1(x);
  // All seven arguments, so that any module with MultiheadAttention's signature can stand in.
  auto attended = attn.forward<std::tuple<torch::Tensor, torch::Tensor>>(
      h, h, h, /*key_padding_mask=*/torch::Tensor(), /*need_weights=*/false, attn_mask,
      /*average_attn_weights=*/true);
  const torch::Tensor y = x + std::get<0>(attended);
  return y + fc2.forward(act(fc1.forward(ln2(y))));
}

void TransformerBlockImpl::replace_child(const std::string& name,
                                         const torch::nn::AnyModule& replacement) {
  if (name == "attn") {
    attn = replacement;
  } else if (name == "fc1") {
    fc1 = replacement;
  } else if (name == "fc2") {
    fc2 = replacement;
  } else {
    no_such_child("TransformerBlock", name);
  }
}

SmallTransformerImpl::SmallTransformerImpl(const SmallTransformerOptions& options_)
    : options(options_) {
  const int64_t d = options.d_model();
  tok_embedding = torch::nn::AnyModule(
      register_module("tok_embedding", torch::nn::Embedding(options.vocab_size(), d)));
  pos_embedding = torch::nn::AnyModule(
      register_module("pos_embedding", torch::nn::Embedding(options.max_seq_len(), d)));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.num_layers(); ++i) blocks->push_back(TransformerBlock(options));
  ln_f = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  head = torch::nn::AnyModule(register_module("head", torch::nn::Linear(d, options.vocab_size())));
}

torch::Tensor SmallTransformerImpl::forward(const torch::Tensor& tokens) {
  if (tokens.dim() != 2 || tokens.size(1) > options.max_seq_len()) {
    throw ShapeError("SmallTransformer: tokens must be [B, T] with T <= max_seq_len (" +
                     std::to_string(options.max_seq_len()) + "), got " +
                     std::to_string(tokens.dim()) + " dims, sizes " + c10::str(tokens.sizes()));
  }
  const int64_t T = tokens.size(1);
  const torch::Tensor positions = torch::arange(T, tokens.options().dtype(torch::kLong));
  // [B, T, d] -> sequence first [T, B, d], as libtorch's MultiheadAttention wants.
  torch::Tensor x =
      (tok_embedding.forward(tokens) + pos_embedding.forward(positions)).transpose(0, 1);
  const torch::Tensor causal = torch::full({T, T}, -std::numeric_limits<float>::infinity()).triu(1);
  for (const auto& block : *blocks) x = block->as<TransformerBlockImpl>()->forward(x, causal);
  return head.forward(ln_f(x)).transpose(0, 1);
}

void SmallTransformerImpl::replace_child(const std::string& name,
                                         const torch::nn::AnyModule& replacement) {
  if (name == "tok_embedding") {
    tok_embedding = replacement;
  } else if (name == "pos_embedding") {
    pos_embedding = replacement;
  } else if (name == "head") {
    head = replacement;
  } else {
    no_such_child("SmallTransformer", name);
  }
}

}  // namespace testing
}  // namespace bitlab
