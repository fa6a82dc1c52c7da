// A tiny float32 decoder-only language model built from stock torch::nn layers, as a fixture
// for the converter's tests: token and position Embeddings, a ModuleList of pre-norm blocks
// (LayerNorm, causal torch::nn::MultiheadAttention, LayerNorm, Linear-GELU-Linear MLP), a final
// LayerNorm and a Linear head. Test-only.
//
// The convertible layers are held as torch::nn::AnyModule and called through it, and the
// modules implement bitlab::SwappableChildren, so BitConverter can swap them for Bit layers
// that forward() then runs (see converter.h).
//
// Example:
//   bitlab::testing::SmallTransformer model(bitlab::testing::SmallTransformerOptions());
//   torch::Tensor tokens = torch::randint(0, 64, {2, 16}, torch::kLong);
//   torch::Tensor logits = model(tokens);   // [2, 16, 64]
#ifndef BITLAB_BITLAYERS_TESTING_SMALL_TRANSFORMER_H_
#define BITLAB_BITLAYERS_TESTING_SMALL_TRANSFORMER_H_

#include <cstdint>
#include <string>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "bitlayers/converter.h"

namespace bitlab {
namespace testing {

struct SmallTransformerOptions {
  TORCH_ARG(int64_t, vocab_size) = 64;
  TORCH_ARG(int64_t, max_seq_len) = 32;
  TORCH_ARG(int64_t, d_model) = 32;
  TORCH_ARG(int64_t, num_heads) = 4;
  TORCH_ARG(int64_t, d_ff) = 64;
  TORCH_ARG(int64_t, num_layers) = 2;
};

/// Pre-norm block: x + attn(ln1(x)), then x + fc2(gelu(fc1(ln2(x)))). Sequence first:
/// [T, B, d_model].
class TransformerBlockImpl : public torch::nn::Module, public SwappableChildren {
 public:
  explicit TransformerBlockImpl(const SmallTransformerOptions& options);

  /// x [T, B, d_model], attn_mask [T, T] float (added to the scores).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& attn_mask);
  void replace_child(const std::string& name, const torch::nn::AnyModule& replacement) override;

  torch::nn::LayerNorm ln1 = nullptr;
  torch::nn::AnyModule attn;
  torch::nn::LayerNorm ln2 = nullptr;
  torch::nn::AnyModule fc1;
  torch::nn::GELU act = nullptr;
  torch::nn::AnyModule fc2;
};
TORCH_MODULE(TransformerBlock);

class SmallTransformerImpl : public torch::nn::Module, public SwappableChildren {
 public:
  explicit SmallTransformerImpl(const SmallTransformerOptions& options = {});

  /// Token ids [B, T] (T <= max_seq_len) -> logits [B, T, vocab_size], causal.
  torch::Tensor forward(const torch::Tensor& tokens);
  void replace_child(const std::string& name, const torch::nn::AnyModule& replacement) override;

  SmallTransformerOptions options;
  torch::nn::AnyModule tok_embedding;
  torch::nn::AnyModule pos_embedding;
  torch::nn::ModuleList blocks = nullptr;
  torch::nn::LayerNorm ln_f = nullptr;
  torch::nn::AnyModule head;
};
TORCH_MODULE(SmallTransformer);

}  // namespace testing
}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_TESTING_SMALL_TRANSFORMER_H_
