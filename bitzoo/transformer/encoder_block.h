// EncoderBlock: the pre-norm transformer encoder block that the Vision Transformer and BERT of
// the model zoo share, with its multi-head self-attention and MLP.
//
//   x = x + attn(norm1(x), key_padding_mask)
//   x = x + mlp(norm2(x))          mlp: fc1 -> GELU (exact, erf) -> fc2
//
// Module names follow timm's ViT blocks, so paths read "blocks.3.attn.q":
//   norm1, norm2          torch::nn::LayerNorm (never converted)
//   attn.q, attn.k, attn.v torch::nn::Linear dim -> dim, one per projection (timm fuses them into
//                         one `attn.qkv`; separate layers hold the same parameters and let
//                         conversion rules and reports name each projection)
//   attn.proj             torch::nn::Linear dim -> dim, the output projection
//   mlp.fc1, mlp.fc2      torch::nn::Linear dim -> mlp_hidden -> dim
//
// The attention is computed here from the four Linear layers rather than with
// torch::nn::MultiheadAttention, whose projections are not children the converter can swap one
// by one. Every Linear is held as a torch::nn::AnyModule by a parent implementing
// bitlab::SwappableChildren, so BitConverter can replace it with a BitLinear that forward() then
// runs (see bitlayers/converter.h).
//
// Masked keys get the lowest float score rather than -inf, so a sequence whose keys are all
// padding attends uniformly instead of producing NaN (which a per-tensor activation scale would
// spread to every token). With per-token activation scales ("ai8pc_*") or float32, padding
// never changes the outputs of real tokens; per-tensor scales ("ai8pt_*") share one scale across
// tokens, so there the mask holds only approximately.
//
// Example:
//   bitlab::bitzoo::EncoderBlock block(bitlab::bitzoo::EncoderBlockOptions(
//       /*dim=*/192, /*num_heads=*/3, /*mlp_hidden=*/768));
//   torch::Tensor y = block(torch::randn({2, 197, 192}));   // [B, T, dim]
//   torch::Tensor padding = torch::zeros({2, 197}, torch::kBool);   // true = padding key
//   torch::Tensor z = block(torch::randn({2, 197, 192}), padding);
#ifndef BITLAB_BITZOO_TRANSFORMER_ENCODER_BLOCK_H_
#define BITLAB_BITZOO_TRANSFORMER_ENCODER_BLOCK_H_

#include <cstdint>
#include <string>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "bitlayers/converter.h"

namespace bitlab {
namespace bitzoo {

struct EncoderBlockOptions {
  EncoderBlockOptions(int64_t dim, int64_t num_heads, int64_t mlp_hidden)
      : dim_(dim), num_heads_(num_heads), mlp_hidden_(mlp_hidden) {}

  /// Model width; a multiple of num_heads.
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  /// Width of the MLP's hidden layer (dim * mlp_ratio).
  TORCH_ARG(int64_t, mlp_hidden);
  /// LayerNorm epsilon: timm's ViT uses 1e-6, BERT 1e-12.
  TORCH_ARG(double, norm_eps) = 1e-6;
};

/// Multi-head self-attention over [B, T, dim] from the Linear children q, k, v and proj.
class EncoderSelfAttentionImpl : public torch::nn::Module, public SwappableChildren {
 public:
  /// Throws BitLabError when dim is not a multiple of num_heads.
  EncoderSelfAttentionImpl(int64_t dim, int64_t num_heads);

  /// x [B, T, dim] -> [B, T, dim]. `key_padding_mask` is undefined (attend everywhere) or
  /// [B, T] bool with true at padding positions, which no query attends to.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_padding_mask = {});
  void replace_child(const std::string& name, const torch::nn::AnyModule& replacement) override;

  int64_t num_heads;
  torch::nn::AnyModule q;
  torch::nn::AnyModule k;
  torch::nn::AnyModule v;
  torch::nn::AnyModule proj;
};
TORCH_MODULE(EncoderSelfAttention);

/// fc1 -> GELU -> fc2.
class EncoderMlpImpl : public torch::nn::Module, public SwappableChildren {
 public:
  EncoderMlpImpl(int64_t dim, int64_t hidden);

  torch::Tensor forward(const torch::Tensor& x);
  void replace_child(const std::string& name, const torch::nn::AnyModule& replacement) override;

  torch::nn::AnyModule fc1;
  torch::nn::AnyModule fc2;
};
TORCH_MODULE(EncoderMlp);

class EncoderBlockImpl : public torch::nn::Module {
 public:
  explicit EncoderBlockImpl(const EncoderBlockOptions& options);

  /// x [B, T, dim] -> [B, T, dim]; `key_padding_mask` as in EncoderSelfAttentionImpl::forward.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_padding_mask = {});

  torch::nn::LayerNorm norm1 = nullptr;
  EncoderSelfAttention attn = nullptr;
  torch::nn::LayerNorm norm2 = nullptr;
  EncoderMlp mlp = nullptr;
};
TORCH_MODULE(EncoderBlock);

/// `depth` EncoderBlocks in a ModuleList (register it as "blocks": paths "blocks.<i>.attn.q").
torch::nn::ModuleList make_encoder_blocks(const EncoderBlockOptions& options, int64_t depth);

/// Runs x through every block of a list made by make_encoder_blocks.
torch::Tensor run_encoder_blocks(const torch::nn::ModuleList& blocks, torch::Tensor x,
                                 const torch::Tensor& key_padding_mask = {});

/// Initializes `model` the way timm's ViT and Hugging Face's BERT do: every Linear and
/// Embedding weight N(0, 0.02), Linear biases 0, an Embedding's padding_idx row 0; LayerNorms
/// and convolutions keep libtorch's defaults (ones/zeros, Kaiming uniform). Only the modules
/// below `model` are visited, so a constructor may call it on itself. Does nothing while
/// building a deployed skeleton (bitlayers/deployed_skeleton.h).
void init_transformer_weights(torch::nn::Module& model);

/// Throws BitLabError saying that `module` has no swappable child `name`: replace_child's
/// answer for names that are not its AnyModule members.
[[noreturn]] void throw_no_swappable_child(const std::string& module, const std::string& name);

/// "sizes [2, 3] Float", or "an undefined tensor": what error messages say they got.
std::string describe_tensor(const torch::Tensor& tensor);

}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_TRANSFORMER_ENCODER_BLOCK_H_
