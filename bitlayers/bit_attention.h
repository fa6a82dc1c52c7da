// BitMultiheadAttention: a drop-in for torch::nn::MultiheadAttention (libtorch 1.13, sequence
// first) whose four projections are ternary BitLinear layers.
//
// The projections `q_proj`, `k_proj`, `v_proj` and `out_proj` are BitLinear layers with their
// own life cycle (fake quantization in training, packed kernels in eval, deploy()); the
// attention itself (scores, masking, softmax, dropout, weighted sum) runs in float32 with at::
// ops. With `sub_norm`, a BitRMSNorm over embed_dim normalizes the heads' concatenated output
// before out_proj, as BitNet b1.58's SubLN does.
//
// Masks follow torch: key_padding_mask (N, S) bool, true = ignore that key; attn_mask (L, S) or
// (N * num_heads, L, S), bool (true = masked) or floating (added to the scores); `causal`
// masks every key after the query's position (key j > query i). A query whose keys are all
// masked has no softmax; torch returns NaN there, this layer throws BitLabError instead, since
// one NaN spreads to every token through a per-tensor activation scale.
//
// With per-tensor activation scales (configs "ai8pt_*") the int8 scale of each projection is
// shared by all tokens, so padded or future tokens still move it: causal and padding masks
// then hold only approximately. Per-token scales ("ai8pc_*") and float32 activations ("af32_*")
// keep tokens independent.
//
// Example:
//   bitlab::BitMultiheadAttention attention(bitlab::BitMultiheadAttentionOptions(512, 8)
//       .causal(true)
//       .quant_config(bitlab::BitQuantConfig::from_string("ai8pc_wpt")));
//   auto [output, weights] = attention(x, x, x);   // x: (L, N, 512)
//   attention->deploy();
//   // From a trained float model:
//   auto converted = bitlab::BitMultiheadAttentionImpl::from_torch(*torch_mha, config);
#ifndef BITLAB_BITLAYERS_BIT_ATTENTION_H_
#define BITLAB_BITLAYERS_BIT_ATTENTION_H_

#include <cstdint>
#include <memory>
#include <ostream>
#include <tuple>

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/pimpl.h>

#include "bitcore/quant_config.h"
#include "bitlayers/bit_linear.h"
#include "bitlayers/bit_norm.h"

namespace bitlab {

struct BitMultiheadAttentionOptions {
  BitMultiheadAttentionOptions(int64_t embed_dim, int64_t num_heads)
      : embed_dim_(embed_dim), num_heads_(num_heads) {}

  /// Model width E, the last dimension of query, key, value and output. Effect only through
  /// reset().
  TORCH_ARG(int64_t, embed_dim);
  /// Number of heads; must divide embed_dim. Effect only through reset().
  TORCH_ARG(int64_t, num_heads);
  /// Dropout on the attention weights, in training only. Read at every forward.
  TORCH_ARG(double, dropout) = 0.0;
  /// Whether the four projections have biases. Effect only through reset().
  TORCH_ARG(bool, bias) = true;
  /// BitRMSNorm over embed_dim before out_proj (BitNet b1.58's SubLN), registered as
  /// `sub_norm`. Effect only through reset().
  TORCH_ARG(bool, sub_norm) = false;
  /// Masks keys after each query's position (key j > query i). Read at every forward.
  TORCH_ARG(bool, causal) = false;
  /// Quantization of the four projections. Effect only through reset().
  TORCH_ARG(BitQuantConfig, quant_config);
};

/// Not itself a BitLayer: its four BitLinear children are, so the converter and memory_report
/// find and count them one by one.
class BitMultiheadAttentionImpl : public torch::nn::Cloneable<BitMultiheadAttentionImpl> {
 public:
  BitMultiheadAttentionImpl(int64_t embed_dim, int64_t num_heads)
      : BitMultiheadAttentionImpl(BitMultiheadAttentionOptions(embed_dim, num_heads)) {}
  explicit BitMultiheadAttentionImpl(const BitMultiheadAttentionOptions& options);

  /// Creates the projections (and the sub-norm), re-initializing everything.
  void reset() override;
  /// Xavier-uniform projection weights and zero biases, as torch::nn::MultiheadAttention.
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  /// query (L, N, E), key and value (S, N, E) -> (output (L, N, E), weights). The weights are
  /// the attention probabilities (after dropout, as libtorch returns them), (N, L, S) averaged
  /// over heads when average_attn_weights, else (N, num_heads, L, S); an undefined tensor when
  /// !need_weights. See the file comment for the masks. Throws ShapeError for bad shapes or
  /// dtypes and BitLabError when a query has no unmasked key.
  std::tuple<torch::Tensor, torch::Tensor> forward(
      const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
      const torch::Tensor& key_padding_mask = {}, bool need_weights = true,
      const torch::Tensor& attn_mask = {}, bool average_attn_weights = true);

  /// Bool (L, S), true where key j comes after query i (j > i): the mask `causal` applies.
  static torch::Tensor causal_mask(int64_t L, int64_t S);

  /// Throws BitLabError when turning training on after deploy().
  void train(bool on = true) override;
  /// Deploys the four projections (see BitLinear::deploy) and stays in eval mode for good.
  void deploy();
  bool is_deployed() const;

  /// A BitMultiheadAttention with `mha`'s weights: in_proj_weight and in_proj_bias split into
  /// q, k and v, out_proj copied, dropout kept. Throws BitLabError for add_bias_kv,
  /// add_zero_attn, or kdim / vdim other than embed_dim, which have no BitLab counterpart.
  static std::shared_ptr<BitMultiheadAttentionImpl> from_torch(
      const torch::nn::MultiheadAttentionImpl& mha, const BitQuantConfig& config);

  BitMultiheadAttentionOptions options;
  BitLinear q_proj = nullptr;
  BitLinear k_proj = nullptr;
  BitLinear v_proj = nullptr;
  BitLinear out_proj = nullptr;
  /// Registered only with options.sub_norm (a learned weight is part of that architecture).
  BitRMSNorm sub_norm = nullptr;

 protected:
  FORWARD_HAS_DEFAULT_ARGS({3, torch::nn::AnyValue(torch::Tensor())},
                           {4, torch::nn::AnyValue(true)},
                           {5, torch::nn::AnyValue(torch::Tensor())},
                           {6, torch::nn::AnyValue(true)})
};

TORCH_MODULE(BitMultiheadAttention);

}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_BIT_ATTENTION_H_
