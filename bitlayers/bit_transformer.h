// BitTransformerBlock: a pre-norm transformer block whose projections are ternary, in the
// shape of BitNet b1.58.
//
//   x = x + dropout(attn(norm1(x)))        attn: BitMultiheadAttention (SubLN with sub_norm)
//   x = x + dropout(mlp(norm2(x)))
//   mlp(h) = down_proj(ffn_sub_norm(act(up_proj(h))))          kGELU, kReLU2
//   mlp(h) = down_proj(ffn_sub_norm(silu(gate_proj(h)) * up_proj(h)))   kSwiGLU
//
// Every projection is a BitLinear; the norms (BitRMSNorm or BitLayerNorm) stay float32.
// ffn_sub_norm is a BitRMSNorm over ffn_dim, present with sub_norm only. Sequences are
// (L, N, d_model), as for BitMultiheadAttention (see bit_attention.h for the masks and for
// why causal models want per-token activation scales).
//
// Example:
//   bitlab::BitTransformerBlock block(bitlab::BitTransformerBlockOptions(512, 8, 2048)
//       .activation(bitlab::BitActivation::kSwiGLU)
//       .causal(true)
//       .quant_config(bitlab::BitQuantConfig::from_string("ai8pc_wpt")));
//   torch::Tensor y = block(x);   // x: (L, N, 512)
//   block->deploy();
#ifndef BITLAB_BITLAYERS_BIT_TRANSFORMER_H_
#define BITLAB_BITLAYERS_BIT_TRANSFORMER_H_

#include <cstdint>
#include <ostream>

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/pimpl.h>

#include "bitcore/quant_config.h"
#include "bitlayers/bit_attention.h"
#include "bitlayers/bit_linear.h"
#include "bitlayers/bit_norm.h"

namespace bitlab {

/// The MLP's nonlinearity. kReLU2 is relu(x)^2 (BitNet b1.58); kSwiGLU is silu(gate(x)) * up(x)
/// with a third projection `gate_proj`.
enum class BitActivation { kGELU, kReLU2, kSwiGLU };

/// The block's normalizations: BitRMSNorm (eps 1e-6) or BitLayerNorm (eps 1e-5).
enum class BitNormType { kRMSNorm, kLayerNorm };

struct BitTransformerBlockOptions {
  BitTransformerBlockOptions(int64_t d_model, int64_t num_heads, int64_t ffn_dim)
      : d_model_(d_model), num_heads_(num_heads), ffn_dim_(ffn_dim) {}

  /// Model width. Effect only through reset().
  TORCH_ARG(int64_t, d_model);
  /// Attention heads; must divide d_model. Effect only through reset().
  TORCH_ARG(int64_t, num_heads);
  /// Hidden width of the MLP. Effect only through reset().
  TORCH_ARG(int64_t, ffn_dim);
  /// Effect only through reset() (kSwiGLU adds `gate_proj`).
  TORCH_ARG(BitActivation, activation) = BitActivation::kReLU2;
  /// `norm1` and `norm2`. Effect only through reset().
  TORCH_ARG(BitNormType, norm) = BitNormType::kRMSNorm;
  /// SubLN: BitRMSNorms before the attention's out_proj and before down_proj. Effect only
  /// through reset().
  TORCH_ARG(bool, sub_norm) = true;
  /// Causal self-attention. Effect only through reset() (it is the attention's option).
  TORCH_ARG(bool, causal) = false;
  /// Dropout on the attention weights and on both residual branches, in training only.
  /// Effect only through reset() for the attention weights, at every forward for the branches.
  TORCH_ARG(double, dropout) = 0.0;
  /// Biases on every projection (BitNet style has none). Effect only through reset().
  TORCH_ARG(bool, bias) = false;
  /// Quantization of every projection. Effect only through reset().
  TORCH_ARG(BitQuantConfig, quant_config);
};

class BitTransformerBlockImpl : public torch::nn::Cloneable<BitTransformerBlockImpl> {
 public:
  BitTransformerBlockImpl(int64_t d_model, int64_t num_heads, int64_t ffn_dim)
      : BitTransformerBlockImpl(BitTransformerBlockOptions(d_model, num_heads, ffn_dim)) {}
  explicit BitTransformerBlockImpl(const BitTransformerBlockOptions& options);

  /// Creates every submodule, re-initializing everything.
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x (L, N, d_model) -> (L, N, d_model). key_padding_mask and attn_mask as for
  /// BitMultiheadAttention::forward.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_padding_mask = {},
                        const torch::Tensor& attn_mask = {});

  /// Throws BitLabError when turning training on after deploy().
  void train(bool on = true) override;
  /// Deploys every projection and stays in eval mode for good.
  void deploy();
  bool is_deployed() const;

  BitTransformerBlockOptions options;
  /// A BitRMSNorm or a BitLayerNorm, per options.norm.
  torch::nn::AnyModule norm1;
  BitMultiheadAttention attn = nullptr;
  torch::nn::AnyModule norm2;
  /// Present only with kSwiGLU.
  BitLinear gate_proj = nullptr;
  BitLinear up_proj = nullptr;
  /// Present only with sub_norm.
  BitRMSNorm ffn_sub_norm = nullptr;
  BitLinear down_proj = nullptr;

 protected:
  FORWARD_HAS_DEFAULT_ARGS({1, torch::nn::AnyValue(torch::Tensor())},
                           {2, torch::nn::AnyValue(torch::Tensor())})

 private:
  torch::Tensor mlp(const torch::Tensor& h);
};

TORCH_MODULE(BitTransformerBlock);

}  // namespace bitlab

#endif  // BITLAB_BITLAYERS_BIT_TRANSFORMER_H_
